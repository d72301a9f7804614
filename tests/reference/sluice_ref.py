#!/usr/bin/env python3
"""sluice_ref: an independent, deliberately naive reference implementation of
sluice's windowed aggregation semantics (issue 2, "Semantics (exact ...)").

It is held against the C engine by difftest.py.  Clarity over speed: no panes,
no incremental aggregates; every (key, window) keeps the list of records it
accepted and each output row is computed from that list.

A query is a dict (JSON-serialisable), not SQL; render_sql() turns it into the
equivalent sluice pipeline text.  Shape:

    {
      "stream": {"name": "src", "topic": "src", "timestamp": "ts",
                 "columns": [["k1", "STRING"], ["v", "DOUBLE"], ["ts", "BIGINT"]]},
      "table": "agg", "topic": "out",
      "window": null
              | {"kind": "TUMBLING", "size": ms, "grace": ms}
              | {"kind": "HOPPING", "size": ms, "advance": ms, "grace": ms}
              | {"kind": "SESSION", "size": gap ms, "grace": ms},
      "where": EXPR | null,
      "group_by": ["k1", ...],
      "select": [{"expr": EXPR, "alias": "name" | null}, ...],
      "having": EXPR | null,
      "emit": "CHANGES" | "FINAL"
    }

EXPR (lists):
    ["col", name]                  a source column (WHERE) / group column (SELECT)
    ["lit", value]                 int -> BIGINT, float -> DOUBLE, str -> STRING,
                                   bool -> BOOLEAN, None -> NULL
    ["cmp", op, EXPR, EXPR]        op in = <> < <= > >=
    ["and", EXPR, EXPR] | ["or", EXPR, EXPR] | ["not", EXPR]
    ["isnull", EXPR] | ["notnull", EXPR]
    ["agg", fn, col | null]        fn in COUNT SUM AVG MIN MAX COUNT_DISTINCT
                                   LATEST_BY_OFFSET EARLIEST_BY_OFFSET STDDEV_SAMP;
                                   COUNT with null = COUNT(*)
    ["agg", fn, col, param]        fn in TOPK TOPKDISTINCT (param: k) EMA (param: alpha)
    ["windowstart"] | ["windowend"]

Three-valued logic: a comparison with a NULL operand is NULL; WHERE and HAVING
keep a record/row only when the condition is TRUE.

Usage as a program:
    sluice_ref.py QUERY.json INPUT.ndjson [--sql]   rows as NDJSON on stdout
"""
import json
import math
import sys

INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1
INT32_MIN, INT32_MAX = -(2 ** 31), 2 ** 31 - 1
INT_TYPES = ("BIGINT", "INTEGER")


# ---------------------------------------------------------------- decoding

class Drop(Exception):
    pass


def _no_constants(name):
    # Python's json accepts NaN/Infinity; RFC 8259 does not.
    raise ValueError("not JSON: " + name)


def decode_value(ctype, v):
    """Value of a declared column from its JSON value; raises Drop on a wrong
    JSON type.  None (JSON null or missing) is NULL."""
    if v is None:
        return None
    if ctype == "STRING":
        if isinstance(v, str):
            return v
        raise Drop("wrong column type")
    if ctype == "BOOLEAN":
        if isinstance(v, bool):
            return v
        raise Drop("wrong column type")
    if isinstance(v, bool):
        raise Drop("wrong column type")
    if ctype == "BIGINT":
        # json.loads gives int exactly for integer syntax (no '.', no exponent)
        if isinstance(v, int) and INT64_MIN <= v <= INT64_MAX:
            return v
        raise Drop("wrong column type")
    if ctype == "INTEGER":
        if isinstance(v, int) and INT32_MIN <= v <= INT32_MAX:
            return v
        raise Drop("wrong column type")
    if ctype == "DOUBLE":
        if isinstance(v, (int, float)):
            return float(v)  # correctly rounded, like strtod
        raise Drop("wrong column type")
    raise ValueError("unknown type " + ctype)


def decode_line(stream, line):
    """dict column -> value for one non-blank line; raises Drop."""
    try:
        obj = json.loads(line, parse_constant=_no_constants)
    except ValueError:
        raise Drop("not JSON")
    if not isinstance(obj, dict):
        raise Drop("not an object")
    rec = {}
    for name, ctype in stream["columns"]:
        rec[name] = decode_value(ctype, obj.get(name))
    ts = obj.get(stream["timestamp"])
    if ts is None or isinstance(ts, bool) or not isinstance(ts, int) \
            or not INT64_MIN <= ts <= INT64_MAX:
        raise Drop("bad timestamp")
    rec[stream["timestamp"]] = ts
    return rec


# ------------------------------------------------------------- expressions

def compare(op, a, b):
    if a is None or b is None:
        return None
    return {"=": a == b, "<>": a != b, "<": a < b, "<=": a <= b,
            ">": a > b, ">=": a >= b}[op]


def evaluate(e, env):
    """env: callable resolving leaves ("col", "agg", "windowstart", ...)."""
    tag = e[0]
    if tag == "lit":
        return e[1]
    if tag == "cmp":
        return compare(e[1], evaluate(e[2], env), evaluate(e[3], env))
    if tag == "and":
        a, b = evaluate(e[1], env), evaluate(e[2], env)
        if a is False or b is False:
            return False
        if a is None or b is None:
            return None
        return True
    if tag == "or":
        a, b = evaluate(e[1], env), evaluate(e[2], env)
        if a is True or b is True:
            return True
        if a is None or b is None:
            return None
        return False
    if tag == "not":
        a = evaluate(e[1], env)
        return None if a is None else not a
    if tag == "isnull":
        return evaluate(e[1], env) is None
    if tag == "notnull":
        return evaluate(e[1], env) is not None
    return env(e)


# -------------------------------------------------------------- aggregates

def wrap64(n):
    return (n + 2 ** 63) % 2 ** 64 - 2 ** 63


HLL_EXACT = 512  # COUNT_DISTINCT is exact up to this many distinct values


def welford(vals):
    """Sample standard deviation by Welford's update in arrival order (the
    same IEEE operations as sluice's, so a one-pane result is bit-exact)."""
    n, mean, m2 = 0, 0.0, 0.0
    for v in vals:
        v = float(v)
        n += 1
        delta = v - mean
        mean += delta / n
        m2 += delta * (v - mean)
    if n < 2:
        return None
    sd = math.sqrt(m2 / (n - 1))
    return sd if math.isfinite(sd) else None  # NaN, inf: JSON null


def aggregate(fn, col, ctype, records, param=None):
    """The aggregate over the records a window accepted, in arrival order.
    Returns (value, scale): scale is sum(|x|) (or its mean for AVG) for DOUBLE
    SUM/AVG, the magnitude that bounds float summation error; ("sd", max|x|)
    for STDDEV_SAMP (panes merge by Chan's formula); ("approx", 0.05) for a
    COUNT_DISTINCT past the exact range (a HyperLogLog, 1.6 % standard
    error); else None."""
    if fn == "COUNT":
        if col is None:
            return len(records), None
        return sum(1 for r in records if r[col] is not None), None
    vals = [r[col] for r in records if r[col] is not None]
    if fn == "COUNT_DISTINCT":
        n = len(set(vals))  # -0.0 == 0.0, strings by code points = UTF-8 bytes
        return n, (("approx", 0.05) if n > HLL_EXACT else None)
    if fn == "TOPK":
        return sorted(vals, reverse=True)[:param], None
    if fn == "TOPKDISTINCT":
        return sorted(set(vals), reverse=True)[:param], None
    if not vals:
        return None, None
    if fn == "LATEST_BY_OFFSET":
        return vals[-1], None
    if fn == "EARLIEST_BY_OFFSET":
        return vals[0], None
    if fn == "STDDEV_SAMP":
        return welford(vals), ("sd", max(abs(float(v)) for v in vals))
    if fn == "EMA":
        ema = float(vals[0])
        for v in vals[1:]:
            ema = param * float(v) + (1.0 - param) * ema
        return (ema if math.isfinite(ema) else None), None  # NaN, inf: JSON null
    if not vals:
        return None, None
    if fn == "MIN":
        return min(vals), None
    if fn == "MAX":
        return max(vals), None
    if ctype in INT_TYPES:
        total = wrap64(sum(vals))
        if fn == "SUM":
            return total, None
        return float(total) / float(len(vals)), None  # AVG: C double division
    total = 0.0
    for v in vals:  # naive left-to-right summation in arrival order
        total += v
    scale = sum(abs(v) for v in vals)
    if fn == "SUM":
        return total, scale
    return total / len(vals), scale / len(vals)


# ----------------------------------------------------------------- windows

def windows_for(window, ts):
    """[(start, end)] of the windows holding ts, by start ascending."""
    if window is None:
        return [(None, None)]
    size = window["size"]
    if window["kind"] == "TUMBLING":
        s = ts // size * size  # Python // floors, also for negative ts
        return [(s, s + size)]
    adv = window["advance"]
    out = []
    s = ts // adv * adv
    while s + size > ts:
        out.append((s, s + size))
        s -= adv
    return sorted(out)


# ------------------------------------------------------------------ engine

class WindowState:
    def __init__(self, key, start, end, first_seq):
        self.key, self.start, self.end = key, start, end
        self.first_seq = first_seq  # seq of the first record it accepted
        self.records = []
        self.seqs = []  # SESSION: each record's seq, to keep records in input order


def run(query, lines):
    """Runs the query over an iterable of input lines (str, without newline).
    Returns (rows, stats): rows is a list of (fields, scales) where fields is
    a list of (name, value) in SELECT order and scales maps a field name to
    the summation magnitude of DOUBLE SUM/AVG fields."""
    stream = query["stream"]
    ctypes = {name: t for name, t in stream["columns"]}
    window = query["window"]
    grace = (window.get("grace") or 0) if window else 0
    group_by = query["group_by"]
    stats = {"read": 0, "dropped": 0, "filtered": 0, "null_key": 0,
             "late": 0, "rows": 0}
    rows = []
    open_windows = {}  # (key, start) -> WindowState
    stream_time = None

    def emit(ws):
        aggs = {}

        def agg_of(e):
            k = tuple(e[1:])
            if k not in aggs:
                aggs[k] = aggregate(e[1], e[2], ctypes.get(e[2]), ws.records,
                                    e[3] if len(e) > 3 else None)
            return aggs[k]

        def env(e):
            if e[0] == "agg":
                return agg_of(e)[0]
            if e[0] == "col":
                return ws.key[group_by.index(e[1])]
            if e[0] == "windowstart":
                return ws.start
            if e[0] == "windowend":
                return ws.end
            raise ValueError("bad expression %r" % (e,))

        if query.get("having") is not None and evaluate(query["having"], env) is not True:
            return
        fields, scales = [], {}
        for item in query["select"]:
            e = item["expr"]
            name = output_name(item)
            fields.append((name, evaluate(e, env)))
            if e[0] == "agg" and agg_of(e)[1] is not None:
                scales[name] = agg_of(e)[1]
        rows.append((fields, scales))
        stats["rows"] += 1

    def tombstone(ws):
        key = ws.key[0] if len(ws.key) == 1 else list(ws.key)
        rows.append(([("key", key), ("windowStart", ws.start), ("windowEnd", ws.end),
                      ("value", None)], {}))
        stats["rows"] += 1

    sessions = {}  # SESSION: key -> open WindowStates sorted by start

    seq = 0
    for line in lines:
        if line.strip(" \t\r\n") == "":
            continue  # blank lines are skipped and not numbered
        seq += 1
        stats["read"] += 1
        try:
            rec = decode_line(stream, line)
        except Drop:
            stats["dropped"] += 1
            continue
        if query.get("where") is not None:
            if evaluate(query["where"], lambda e: rec[e[1]]) is not True:
                stats["filtered"] += 1
                continue
        key = tuple(rec[g] for g in group_by)
        if any(k is None for k in key):
            stats["null_key"] += 1
            continue
        ts = rec[stream["timestamp"]]
        stream_time = ts if stream_time is None else max(stream_time, ts)
        if window is not None and window["kind"] == "SESSION":
            # A session [first, last record] closes once stream time >=
            # last + gap + grace: close first, then apply the record.
            gap = window["size"]
            closing = [ws for lst in sessions.values() for ws in lst
                       if stream_time >= ws.end + gap + grace]
            for ws in closing:
                sessions[ws.key].remove(ws)
                if not sessions[ws.key]:
                    del sessions[ws.key]
            if query["emit"] == "FINAL":
                for ws in sorted(closing, key=lambda w: (w.end, w.first_seq)):
                    emit(ws)
            lst = sessions.get(key, [])
            touched = [ws for ws in lst if ws.start - gap <= ts <= ws.end + gap]
            if not touched and ts + gap + grace <= stream_time:
                stats["late"] += 1
                continue
            start = min([ts] + [ws.start for ws in touched])
            end = max([ts] + [ws.end for ws in touched])
            new = WindowState(key, start, end, min([seq] + [ws.first_seq for ws in touched]))
            merged = []
            for ws in touched:  # in start order: lst is sorted
                merged.extend(zip(ws.seqs, ws.records))
                if query["emit"] == "CHANGES" and (ws.start, ws.end) != (start, end):
                    tombstone(ws)
            merged.append((seq, rec))
            # Merged sessions' records interleave: back to input order, which
            # LATEST/EARLIEST_BY_OFFSET follow (the new record is not always
            # the latest non-NULL value, nor the first session's the earliest).
            merged.sort(key=lambda t: t[0])
            new.seqs = [t[0] for t in merged]
            new.records = [t[1] for t in merged]
            sessions[key] = sorted([ws for ws in lst if ws not in touched] + [new],
                                   key=lambda w: w.start)
            if query["emit"] == "CHANGES":
                emit(new)
            continue
        accepted = [(s, e) for s, e in windows_for(window, ts)
                    if window is None or stream_time < e + grace]
        if not accepted:
            stats["late"] += 1
        for s, e in accepted:
            ws = open_windows.get((key, s))
            if ws is None:
                ws = open_windows[(key, s)] = WindowState(key, s, e, seq)
            ws.records.append(rec)
            if query["emit"] == "CHANGES":
                emit(ws)
        if query["emit"] == "FINAL":
            closing = [ws for ws in open_windows.values()
                       if stream_time >= ws.end + grace]
            for ws in sorted(closing, key=lambda w: (w.end, w.first_seq)):
                emit(ws)
                del open_windows[(ws.key, ws.start)]
        elif window is not None:
            # EMIT CHANGES: closed windows accept nothing more; forget them.
            for k in [k for k, ws in open_windows.items()
                      if stream_time >= ws.end + grace]:
                del open_windows[k]
    if query["emit"] == "FINAL":
        left = list(open_windows.values()) + [ws for lst in sessions.values() for ws in lst]
        for ws in sorted(left, key=lambda w: (w.end, w.first_seq)):
            emit(ws)
    return rows, stats


# ---------------------------------------------------------------- SQL text

def output_name(item):
    if item.get("alias"):
        return item["alias"]
    e = item["expr"]
    if e[0] == "col":
        return e[1]
    raise ValueError("select item needs an alias: %r" % (e,))


def sql_literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError("non-finite literal")
        t = repr(v)
        if "e" in t or "E" in t:
            t = "%.17f" % v  # plain decimal form; still reads back exactly
            t = t.rstrip("0")
            if t.endswith("."):
                t += "0"
        return t
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    raise ValueError("bad literal %r" % (v,))


def ident(name):
    return "`" + name.replace("`", "``") + "`"


def sql_expr(e):
    tag = e[0]
    if tag == "lit":
        return sql_literal(e[1])
    if tag == "col":
        return ident(e[1])
    if tag == "cmp":
        return "(%s %s %s)" % (sql_expr(e[2]), e[1], sql_expr(e[3]))
    if tag in ("and", "or"):
        return "(%s %s %s)" % (sql_expr(e[1]), tag.upper(), sql_expr(e[2]))
    if tag == "not":
        return "(NOT %s)" % sql_expr(e[1])
    if tag == "isnull":
        return "(%s IS NULL)" % sql_expr(e[1])
    if tag == "notnull":
        return "(%s IS NOT NULL)" % sql_expr(e[1])
    if tag == "agg":
        if len(e) > 3:
            return "%s(%s, %r)" % (e[1], ident(e[2]), e[3])
        return "%s(%s)" % (e[1], "*" if e[2] is None else ident(e[2]))
    if tag == "windowstart":
        return "WINDOWSTART"
    if tag == "windowend":
        return "WINDOWEND"
    raise ValueError("bad expression %r" % (e,))


def sql_duration(ms):
    for unit, n in (("DAYS", 86400000), ("HOURS", 3600000), ("MINUTES", 60000),
                    ("SECONDS", 1000)):
        if ms != 0 and ms % n == 0:
            return "%d %s" % (ms // n, unit)
    return "%d MILLISECONDS" % ms


def render_sql(query):
    st = query["stream"]
    cols = ",\n    ".join("%s %s" % (ident(n), t) for n, t in st["columns"])
    out = ["CREATE STREAM %s (\n    %s\n) WITH (KAFKA_TOPIC = '%s', VALUE_FORMAT = 'JSON', "
           "TIMESTAMP = '%s');" % (ident(st["name"]), cols, st["topic"], st["timestamp"])]
    items = []
    for item in query["select"]:
        t = sql_expr(item["expr"])
        if item.get("alias"):
            t += " AS " + ident(item["alias"])
        items.append(t)
    q = ["CREATE TABLE %s WITH (KAFKA_TOPIC = '%s', VALUE_FORMAT = 'JSON') AS"
         % (ident(query["table"]), query["topic"]),
         "  SELECT " + ",\n         ".join(items),
         "  FROM " + ident(st["name"])]
    w = query["window"]
    if w and w["kind"] == "SESSION":
        parts = [sql_duration(w["size"])]
        if w.get("grace") is not None:
            parts.append("GRACE PERIOD " + sql_duration(w["grace"]))
        q.append("  WINDOW SESSION (%s)" % ", ".join(parts))
    elif w:
        parts = ["SIZE " + sql_duration(w["size"])]
        if w["kind"] == "HOPPING":
            parts.append("ADVANCE BY " + sql_duration(w["advance"]))
        if w.get("grace") is not None:
            parts.append("GRACE PERIOD " + sql_duration(w["grace"]))
        q.append("  WINDOW %s (%s)" % (w["kind"], ", ".join(parts)))
    if query.get("where") is not None:
        q.append("  WHERE " + sql_expr(query["where"]))
    q.append("  GROUP BY " + ", ".join(ident(g) for g in query["group_by"]))
    if query.get("having") is not None:
        q.append("  HAVING " + sql_expr(query["having"]))
    q.append("  EMIT %s;" % query["emit"])
    out.append("\n".join(q))
    return "\n\n".join(out) + "\n"


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[0]) as f:
        query = json.load(f)
    if "--sql" in argv[2:]:
        sys.stdout.write(render_sql(query))
        return 0
    with open(argv[1], encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    rows, stats = run(query, lines)
    for fields, _ in rows:
        sys.stdout.write(json.dumps(dict(fields), separators=(",", ":"), ensure_ascii=False) + "\n")
    print(json.dumps(stats), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
