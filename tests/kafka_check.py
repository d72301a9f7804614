#!/usr/bin/env python3
"""Compares rows read back from a Kafka topic with file mode's rows.

    kafka_check.py PIPELINE.sql TOPIC EXPECTED.ndjson RAW

RAW lines are KEY <tab> TIMESTAMP <tab> VALUE as kcat prints them.  The
values must equal the expected lines as a multiset (Kafka mode orders rows
per partition, not globally); each key must be the row's GROUP BY value(s)
(a string as is, a number as its JSON text, several as a JSON array); each
timestamp must be the row's window end when the row has one.
"""
import json
import re
import sys
from collections import Counter


def group_columns(sql, topic):
    """GROUP BY columns and the window-end alias of the query writing topic."""
    for stmt in sql.split(';'):
        if re.search(r"KAFKA_TOPIC\s*=\s*'%s'" % re.escape(topic), stmt) and \
                re.search(r'\bSELECT\b', stmt, re.I):
            stmt = re.sub(r'--[^\n]*', '', stmt)
            m = re.search(r'GROUP\s+BY\s+(.*?)(\bHAVING\b|\bEMIT\b|$)', stmt, re.I | re.S)
            cols = [c.strip().strip('`') for c in m.group(1).split(',')] if m else []
            w = re.search(r'WINDOWEND\s+AS\s+`?(\w+)', stmt, re.I)
            return cols, (w.group(1) if w else None)
    return [], None


def key_text(v):
    if isinstance(v, str):
        return v
    return json.dumps(v)


def main():
    sql_path, topic, expected, raw = sys.argv[1:5]
    cols, wend = group_columns(open(sql_path).read(), topic)
    want = Counter(line.rstrip('\n') for line in open(expected) if line.strip())
    got = Counter()
    bad = 0
    for line in open(raw):
        line = line.rstrip('\n')
        if not line:
            continue
        key, ts, value = line.split('\t', 2)
        got[value] += 1
        row = json.loads(value)
        if cols and all(c in row for c in cols):
            k = key_text(row[cols[0]]) if len(cols) == 1 else json.dumps([row[c] for c in cols], separators=(',', ':'))
            if key != k:
                bad += 1
                if bad <= 10:
                    print(f'{topic}: key {key!r}, expected {k!r} for {value}', file=sys.stderr)
        if wend and wend in row and int(ts) != row[wend]:
            bad += 1
            if bad <= 10:
                print(f'{topic}: timestamp {ts}, expected window end {row[wend]} for {value}', file=sys.stderr)
    missing = want - got
    extra = got - want
    for what, rows in (('missing', missing), ('extra', extra)):
        for i, (v, n) in enumerate(rows.items()):
            if i == 10:
                print(f'{topic}: ... {len(rows) - 10} more {what} rows', file=sys.stderr)
                break
            print(f'{topic}: {what} x{n}: {v}', file=sys.stderr)
    if missing or extra:
        print(f'{topic}: {sum(want.values())} rows expected, {sum(got.values())} read back, '
              f'{sum(missing.values())} missing, {sum(extra.values())} extra', file=sys.stderr)
    if missing or extra or bad:
        return 1
    print(f'{topic}: {sum(got.values())} rows match')
    return 0


if __name__ == '__main__':
    sys.exit(main())
