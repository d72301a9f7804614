#!/usr/bin/env python3
"""Compares rows read back from a Kafka topic with file mode's rows.

    kafka_check.py PIPELINE.sql TOPIC EXPECTED.ndjson RAW [--session]

RAW lines are KEY <tab> TIMESTAMP <tab> VALUE as kcat prints them.  The
values must equal the expected lines as a multiset (Kafka mode orders rows
per partition, not globally); each key must be the row's GROUP BY value(s)
(a string as is, a number as its JSON text, several as a JSON array); each
timestamp must be the row's window end when the row has one.

--session: the query has a SESSION window.  Keys are binary (the group key,
then the window's end and start as 8-byte big-endian integers), so RAW is
kcat's '%K\t%k\t%T\t%S\t%s\n' (lengths before key and value).  A null value
is a tombstone and stands for file mode's line
{"key":K,"windowStart":S,"windowEnd":E,"value":null}; a row's window must
be its WINDOWSTART / WINDOWEND columns when it has them.
"""
import json
import re
import struct
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


def framed(path):
    """(key bytes or None, timestamp, value bytes or None) of each message."""
    data = open(path, 'rb').read()
    i = 0

    def field(i):
        j = data.index(b'\t', i)
        return data[i:j], j + 1

    while i < len(data):
        klen, i = field(i)
        klen = int(klen)
        key = data[i:i + klen] if klen >= 0 else None
        i += max(klen, 0) + 1
        ts, i = field(i)
        vlen, i = field(i)
        vlen = int(vlen)
        val = data[i:i + vlen] if vlen >= 0 else None
        i += max(vlen, 0)
        assert data[i:i + 1] == b'\n', 'bad framing at byte %d' % i
        i += 1
        yield key, int(ts), val


def session_names(sql, topic):
    """Aliases of WINDOWSTART and WINDOWEND in the query writing topic."""
    for stmt in sql.split(';'):
        if re.search(r"KAFKA_TOPIC\s*=\s*'%s'" % re.escape(topic), stmt):
            s = re.search(r'\bWINDOWSTART\s+AS\s+`?(\w+)', stmt, re.I)
            e = re.search(r'\bWINDOWEND\s+AS\s+`?(\w+)', stmt, re.I)
            return (s.group(1) if s else None), (e.group(1) if e else None)
    return None, None


def check_session(sql, topic, expected, raw):
    cols, _ = group_columns(sql, topic)
    wstart, wend = session_names(sql, topic)
    want = Counter(line.rstrip('\n') for line in open(expected) if line.strip())
    got = Counter()
    bad = []
    for key, ts, val in framed(raw):
        ktext = key[:-16].decode()
        end, start = struct.unpack('>qq', key[-16:])
        if val is None:
            try:
                kjson = json.loads(ktext) if len(cols) > 1 or not ktext or ktext[0] in '-0123456789' else ktext
            except ValueError:
                kjson = ktext
            line = json.dumps({'key': kjson, 'windowStart': start, 'windowEnd': end, 'value': None},
                              separators=(',', ':'))
            got[line] += 1
            continue
        value = val.decode()
        got[value] += 1
        row = json.loads(value)
        if cols and all(c in row for c in cols):
            k = key_text(row[cols[0]]) if len(cols) == 1 else json.dumps([row[c] for c in cols], separators=(',', ':'))
            if ktext != k:
                bad.append(f'key {ktext!r}, expected {k!r} for {value}')
        if (wstart and row.get(wstart) != start) or (wend and row.get(wend) != end):
            bad.append(f'key window [{start}, {end}] differs from {value}')
        if ts != end:
            bad.append(f'timestamp {ts}, expected session end {end} for {value}')
    return report(topic, want, got, bad)


def report(topic, want, got, bad):
    for b in bad[:10]:
        print(f'{topic}: {b}', file=sys.stderr)
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


def main():
    sql_path, topic, expected, raw = sys.argv[1:5]
    if '--session' in sys.argv[5:]:
        return check_session(open(sql_path).read(), topic, expected, raw)
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
