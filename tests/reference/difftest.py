#!/usr/bin/env python3
"""Differential test of sluice against the reference implementation.

For each seed: a random query (window kind/size/advance/grace, group columns,
aggregates, WHERE, HAVING, EMIT mode) and random NDJSON input (out-of-order
timestamps, late records, malformed lines, NULLs) are generated; sluice runs
the rendered SQL with --workers 1 and 3; the rows (values, field order, row
order) and the summary counters must equal sluice_ref.py's.

    difftest.py [--seeds N] [--first S] [--sluice PATH] [--jobs J] [--keep]

Exit 0 when every seed passes, 1 on a mismatch (the failing case is kept in a
temporary directory and printed), 2 on usage errors.
"""
import argparse
import concurrent.futures
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sluice_ref  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SLUICE = os.path.join(HERE, "..", "..", "build", "tools", "sluice")
WORKERS = (1, 3)
REL_TOL_HOPPING = 1e-12
PANE_LIMIT = 4096  # sluice's documented limit on panes per key

# ------------------------------------------------------------------ schema

KEY_VALUES = {
    # a/ab/b/bc: two-column keys that collide if concatenated; NUL inside;
    # long strings that differ only at the end
    "STRING": ["alice", "bob", "carol", "dave", "e\"q", "caf\u00e9", "\u65e5\u672c", "a\\b", "",
               "a", "ab", "b", "bc", "a\u0000b", "a\u0000c", "x" * 40 + "1", "x" * 40 + "2"],
    "BIGINT": [1, 2, 42, -7, 1234567890123, 0],
    "INTEGER": [1, 2, 3, -1, 100000, 0],
    "BOOLEAN": [True, False],
}


def make_schema(rng):
    """Columns of the source stream: key candidates and value columns."""
    cols = [("userId", "STRING"), ("acct", "BIGINT"), ("region", "INTEGER"),
            ("flag", "BOOLEAN"), ("amount", "DOUBLE"), ("qty", "BIGINT"),
            ("small", "INTEGER"), ("price", "DOUBLE"), ("note", "STRING"),
            ("city", "STRING"),
            ("ts", "BIGINT")]
    rng.shuffle(cols)
    return {"name": "src", "topic": "src", "timestamp": "ts",
            "columns": [list(c) for c in cols]}


NUMERIC = ("amount", "qty", "small", "price")
TYPES = {"userId": "STRING", "acct": "BIGINT", "region": "INTEGER", "flag": "BOOLEAN",
         "amount": "DOUBLE", "qty": "BIGINT", "small": "INTEGER", "price": "DOUBLE",
         "note": "STRING", "city": "STRING", "ts": "BIGINT"}

# ------------------------------------------------------------------- query


def rand_literal(rng, ctype):
    if ctype == "STRING":
        return rng.choice(KEY_VALUES["STRING"] + ["m", "zzz", "it's"])
    if ctype == "BOOLEAN":
        return rng.choice([True, False])
    if ctype == "DOUBLE":
        return rng.choice([0.0, 10.5, 100.0, 250.25, -3.5, 500.0, float(rng.randint(-50, 900))])
    return rng.choice([0, 1, 5, 10, 100, -5, 1000, 3])


def rand_where(rng, depth=0):
    r = rng.random()
    if depth < 2 and r < 0.3:
        return [rng.choice(["and", "or"]), rand_where(rng, depth + 1), rand_where(rng, depth + 1)]
    if depth < 2 and r < 0.37:
        return ["not", rand_where(rng, depth + 1)]
    col = rng.choice(list(TYPES))
    if r < 0.47:
        return [rng.choice(["isnull", "notnull"]), ["col", col]]
    ctype = TYPES[col]
    if ctype in ("BIGINT", "INTEGER", "DOUBLE") and rng.random() < 0.25:
        # mixed numeric comparison: integer column vs double literal & v.v.
        ctype = "DOUBLE" if ctype != "DOUBLE" else "BIGINT"
    if col == "ts":
        lit = None  # filled in by the caller once timestamps are known
        op = rng.choice(["<", ">=", "<>"])
        return ["cmp", op, ["col", col], ["lit", lit]]
    ops = ["=", "<>"] if ctype == "BOOLEAN" else ["=", "<>", "<", "<=", ">", ">="]
    e = ["cmp", rng.choice(ops), ["col", col], ["lit", rand_literal(rng, ctype)]]
    if rng.random() < 0.2:
        e[2], e[3] = e[3], e[2]  # literal on the left
    return e


EXT_AGGS = ["COUNT_DISTINCT", "TOPK", "TOPKDISTINCT", "LATEST_BY_OFFSET",
            "EARLIEST_BY_OFFSET", "STDDEV_SAMP", "EMA"]


def rand_agg(rng, window=None, ext=False):
    """An aggregate call; ext adds the functions of docs/sql.md's "Aggregate
    functions" past MAX (EMA only where states are not combined: not in
    HOPPING or SESSION windows, which sluice refuses)."""
    if ext and rng.random() < 0.4:
        fn = rng.choice(EXT_AGGS)
        if fn == "EMA" and window is not None and window["kind"] in ("HOPPING", "SESSION"):
            fn = "STDDEV_SAMP"
        if fn == "COUNT_DISTINCT":
            return ["agg", fn, rng.choice(list(TYPES))]
        if fn in ("LATEST_BY_OFFSET", "EARLIEST_BY_OFFSET"):
            return ["agg", fn, rng.choice(NUMERIC + ("flag",))]
        if fn in ("TOPK", "TOPKDISTINCT"):
            return ["agg", fn, rng.choice(NUMERIC), rng.choice([1, 2, 3, 5, 100])]
        if fn == "EMA":
            return ["agg", fn, rng.choice(NUMERIC), rng.choice([1, 0.5, 0.25, 0.1, 0.3, 0.75])]
        return ["agg", fn, rng.choice(NUMERIC)]
    fn = rng.choice(["COUNT", "COUNT", "SUM", "SUM", "AVG", "AVG", "MIN", "MAX"])
    if fn == "COUNT":
        return ["agg", fn, rng.choice([None, None, rng.choice(list(TYPES))])]
    return ["agg", fn, rng.choice(NUMERIC)]


def rand_having(rng, aggs):
    def one():
        # HAVING compares numbers: none of the extension aggregates
        old = [x for x in aggs if x[1] not in EXT_AGGS]
        a = rng.choice(old) if old and rng.random() < 0.7 else rand_agg(rng)
        if a[1] == "COUNT":
            lit = rng.choice([1, 2, 3, 5, 10])
        elif a[2] in ("amount", "price"):
            lit = rng.choice([0.0, 100.0, 300.5, 1000.0, 2000])
        else:
            lit = rng.choice([0, 10, 50, 200, 1.5])
        return ["cmp", rng.choice(["=", "<>", "<", "<=", ">", ">="]), a, ["lit", lit]]
    e = one()
    if rng.random() < 0.3:
        e = [rng.choice(["and", "or"]), e, one()]
    return e


def make_query(rng):
    schema = make_schema(rng)
    r = rng.random()
    size = rng.choice([1000, 2000, 5000, 10000, 30000, 60000])
    grace = rng.choice([None, 0, 0, 500, 1000, 3000, 10000, 30000])
    if r < 0.12:
        window = None
    elif r < 0.45:
        window = {"kind": "TUMBLING", "size": size, "grace": grace}
    elif r < 0.72:
        # sluice keeps ceil((gap + grace) / gap) <= 256 sessions per key.
        window = {"kind": "SESSION", "size": rng.choice([200, 500, 1000, 2000, 5000, 10000]),
                  "grace": grace}
    else:
        cands = {size, size // 2, size // 3, size // 4, size // 5, 1000, 1500, 3000, 7000, 700}
        # sluice keeps (size + grace) / gcd(size, advance) panes per key and
        # rejects more than PANE_LIMIT (exit 2): stay within that.
        cands = [a for a in cands if 0 < a <= size and -(-size // a) <= 8
                 and (size + (grace or 0)) // math.gcd(size, a) <= PANE_LIMIT]
        window = {"kind": "HOPPING", "size": size, "advance": rng.choice(sorted(cands)),
                  "grace": grace}
    keycands = ["userId", "acct", "region", "flag", "city"]
    group_by = rng.sample(keycands, rng.choice([1, 1, 2, 2, 3]))
    aggs = [rand_agg(rng, window, ext=True) for _ in range(rng.randint(1, 4))]
    items = [{"expr": ["col", g], "alias": None} for g in group_by if rng.random() < 0.9]
    for i, a in enumerate(aggs):
        items.append({"expr": a, "alias": "%s_%s%d" % (a[1].lower(), a[2] or "all", i)})
    if window:
        if rng.random() < 0.7:
            items.append({"expr": ["windowstart"], "alias": rng.choice(["windowStart", "ws"])})
        if rng.random() < 0.7:
            items.append({"expr": ["windowend"], "alias": rng.choice(["windowEnd", "we"])})
    if rng.random() < 0.25:
        items.append({"expr": ["lit", rand_literal(rng, rng.choice(["STRING", "BIGINT", "DOUBLE", "BOOLEAN"]))],
                      "alias": "lit"})
    rng.shuffle(items)
    emit = "CHANGES" if window is None else rng.choice(["CHANGES", "FINAL", "FINAL"])
    return {
        "stream": schema, "table": "agg", "topic": "out", "window": window,
        "where": rand_where(rng) if rng.random() < 0.4 else None,
        "group_by": group_by, "select": items,
        "having": rand_having(rng, aggs) if rng.random() < 0.3 else None,
        "emit": emit,
    }


# -------------------------------------------------------------------- data

def fmt_double(rng, v):
    """JSON text for a DOUBLE value, in one of several spellings."""
    r = rng.random()
    if r < 0.1 and v == int(v):
        return str(int(v))           # integer syntax into a DOUBLE column
    if r < 0.15:
        return "%.6e" % v            # exponent form
    return repr(v)


def value_text(rng, col, ctype, keys):
    if col in keys:
        return json.dumps(rng.choice(keys[col]), ensure_ascii=rng.random() < 0.5)
    if rng.random() < 0.05:
        return "null"
    if ctype == "STRING":
        return json.dumps(rng.choice(KEY_VALUES["STRING"] + ["x" * rng.randint(0, 30), "tab\there", "\u00fc\U0001F600"]),
                          ensure_ascii=rng.random() < 0.5)
    if ctype == "BOOLEAN":
        return rng.choice(["true", "false"])
    if ctype == "DOUBLE":
        r = rng.random()
        if r < 0.6:
            v = round(rng.uniform(-50, 1000), 2)
        elif r < 0.8:
            v = float(rng.randint(-100, 100))
        elif r < 0.9:
            v = rng.uniform(-1, 1) * 10 ** rng.randint(-5, 8)
        elif r < 0.997:
            v = rng.choice([0.1, 0.2, 0.3, 1e-3, 123456.789, 1 / 3, 1e21, 1e22, -1e300, 1e-7,
                            1.5e300, 9007199254740993.0, 2.2250738585072014e-308,
                            2.0 ** 89, 2.0 ** -1000])  # powers of 2: asymmetric rounding gaps
        else:
            v = rng.choice([2.5e-320, 5e-324, 1e-310, -4.9e-322])  # subnormal
        return fmt_double(rng, v)
    if ctype == "BIGINT":
        r = rng.random()
        if r < 0.05:
            return str(rng.choice([2 ** 62 + rng.randint(0, 10 ** 6), 2 ** 63 - 1, -(2 ** 63),
                                   -(2 ** 62) - rng.randint(0, 10 ** 6)]))
        return str(rng.randint(-20, 500))
    if ctype == "INTEGER":
        r = rng.random()
        if r < 0.05:
            return str(rng.choice([2 ** 31 - 1, -(2 ** 31), 2 ** 30]))
        return str(rng.randint(-20, 500))
    raise ValueError(ctype)


DECOYS = [
    '{"a":[1,2,{"b":"}"}],"c":null}',
    '{"ts":"bad","userId":null,"acct":"x","amount":"y"}',
    '[{"ts":1},{"qty":1.5}]',
    '"\\"ts\\":1, \\"userId\\":\\"zzz\\""',
    '[[[[[[[[[[{"a":[[[]]]}]]]]]]]]]]',
    '{"":{"\\u0074s":{}}}',
    '-1.5e-300', 'true', 'false', 'null', '"\\ud83d\\ude00 \\t \\" \\\\ \\/"',
]
INVALID = ["01", "1.", ".5", "+1", "-", "1e", "--1", "tru", "nul", "[1,]", "{\"a\"}",
           "{\"a\":1,}", "\"\\q\"", "\"\\u12\"", "\"tab\there\"", "\"\x01\"",
           "[1 2]", "{a:1}", "'s'", "0x10", "Infinity", "-NaN"]


BAD_TYPE = {
    "STRING": ["1", "true", "[\"a\"]", "{\"a\":1}", "1.5"],
    "BIGINT": ["1.5", "\"7\"", "1e3", "9223372036854775808", "-9223372036854775809", "true", "10.0"],
    "INTEGER": ["2147483648", "-2147483649", "2.0", "\"1\"", "false"],
    "DOUBLE": ["\"1.5\"", "true", "[1]", "{}"],
    "BOOLEAN": ["1", "0", "\"true\"", "null1"],
}


def key_pool(rng, ctype, n):
    pool = list(KEY_VALUES[ctype])
    if n > len(pool) and ctype == "STRING":
        pool += ["user-%d" % i for i in range(n)]
    elif n > len(pool) and ctype in ("BIGINT", "INTEGER"):
        pool += list(range(1000, 1000 + n))
    return rng.sample(pool, min(n, len(pool)))


def escape_name(rng, text):
    """The same JSON object with one field name spelled with a \\u escape."""
    m = [i for i, c in enumerate(text) if c == '"']
    if len(m) < 2:
        return text
    i = m[0] + 1
    j = text.index('"', i)
    if j == i:
        return text
    k = rng.randrange(i, j)
    return text[:k] + "\\u%04x" % ord(text[k]) + text[k + 1:]


def make_input(rng, query, path):
    schema = query["stream"]
    n = max(50, int(rng.choice([50, 100, 200, 400, 800, 2000]) * rng.uniform(0.5, 1.0)))
    nkeys = rng.choice([1, 2, 3, 5, 8, 8, 300])  # sometimes many keys: table growth
    keys = {g: key_pool(rng, TYPES[g], nkeys) for g in query["group_by"]}
    size = query["window"]["size"] if query["window"] else 10000
    gap = rng.choice([5, 20, 50, 200, 1000])
    disorder = rng.choice([0, 0, 300, 1000, 3000, 20000])
    late_p = rng.choice([0.0, 0.02, 0.05])
    base = rng.choice([1_700_000_000_000, 1_678_901_234_000, 0, 3_000, -200_000])
    quantum = rng.choice([1, 1, 1, 100, 500, 1000])  # coarse clocks hit window edges
    t = base
    lines = []
    for _ in range(n):
        t += int(rng.expovariate(1.0 / gap))
        if rng.random() < 0.01:
            t += rng.randint(1, 5) * size  # a jump forward
        ts = t + (rng.randint(-disorder, disorder) if disorder else 0)
        if rng.random() < late_p:
            ts = t - rng.randint(1, 3 * size + 30000)  # likely late
        ts = ts // quantum * quantum
        fields = []
        for col, ctype in schema["columns"]:
            if col == "ts":
                fields.append((col, str(ts)))
            elif rng.random() < 0.03 and col not in keys:
                continue  # missing column -> NULL
            else:
                fields.append((col, value_text(rng, col, ctype, keys)))
        r = rng.random()
        if r < 0.06:  # ~6 % malformed in some way
            kind = rng.randrange(11)
            if kind == 0:
                line = rng.choice(["{bad json", "[1,2,3]", "\"str\"", "42", "null",
                                   "{\"userId\":\"alice\",}", "{\"ts\":1}{", "{\"a\":NaN}"])
                lines.append(line)
                continue
            if kind == 1:  # wrong JSON type of some declared column
                i = rng.randrange(len(fields))
                col = fields[i][0]
                fields[i] = (col, rng.choice(BAD_TYPE[TYPES[col]] if col != "ts" else ["\"1\"", "1.5", "true", "1e12"]))
            elif kind == 2:  # timestamp missing or null
                fields = [f for f in fields if f[0] != "ts"]
                if rng.random() < 0.5:
                    fields.append(("ts", "null"))
            elif kind == 3 and query["group_by"]:  # key null or missing
                g = rng.choice(query["group_by"])
                fields = [f for f in fields if f[0] != g]
                if rng.random() < 0.5:
                    fields.append((g, "null"))
            elif kind == 4:
                lines.append("")  # blank line: skipped, not numbered
            elif kind == 5:  # extra, nested, unknown fields to skip (decoys inside)
                fields.insert(rng.randrange(len(fields) + 1), ("extra", rng.choice(DECOYS)))
            elif kind == 10:  # an invalid JSON value in a field: the line is not JSON
                fields.insert(rng.randrange(len(fields) + 1), ("extra", rng.choice(INVALID)))
            elif kind == 6:  # trailing garbage after the object
                lines.append("{" + ",".join("%s:%s" % (json.dumps(c), v) for c, v in fields) + "} x")
                continue
            elif kind == 7:  # whitespace inside the object
                lines.append("{ " + " , ".join("%s : %s" % (json.dumps(c), v) for c, v in fields) + " }")
                continue
            elif kind == 8:  # a field name spelled with an escape: same name
                rng.shuffle(fields)
                lines.append(escape_name(rng, "{" + ",".join("%s:%s" % (json.dumps(c), v) for c, v in fields) + "}"))
                continue
            elif kind == 9:  # other number and string spellings
                fields = [(c, respell(rng, TYPES.get(c), v)) for c, v in fields]
        lines.append("{" + ",".join("%s:%s" % (json.dumps(c), v) for c, v in fields) + "}")
    fix_ts_literals(query, base, t)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        eol = rng.choice(["\n", "\n", "\n", "\r\n"])  # \r is JSON whitespace
        f.write(eol.join(lines) + rng.choice([eol, ""]))  # maybe no final newline
    return lines


def respell(rng, ctype, text):
    """Another valid JSON spelling of the same value."""
    if text == "null":
        return text
    if ctype == "DOUBLE":
        v = float(text)
        return rng.choice([repr(v), "%.17g" % v, "%.3E" % v if v == float("%.3E" % v) else repr(v),
                           ("-0" if v == 0 else repr(v))])
    if ctype in ("BIGINT", "INTEGER") and text == "0":
        return "-0"
    if ctype == "STRING":
        v = json.loads(text)
        return '"' + "".join("\\u%04x" % ord(c) if ord(c) < 0x10000 and rng.random() < 0.5
                             else ("\\/" if c == "/" else json.dumps(c)[1:-1]) for c in v) + '"'
    return text


def fix_ts_literals(query, lo, hi):
    def walk(e):
        if isinstance(e, list):
            if e and e[0] == "lit" and e[1] is None:
                e[1] = (lo + hi) // 2
            for x in e:
                walk(x)
    walk(query["where"])


# ----------------------------------------------------------------- compare

SUMMARY_STREAM = re.compile(r"stream \S+: (\d+) read .*?, (\d+) dropped")
SUMMARY_QUERY = re.compile(r"query \S+ -> \S+: (\d+) rows written, (\d+) late, "
                           r"(\d+) filtered, (\d+) null key")


class Double(float):
    """A float read from sluice's output that remembers its text."""
    def __new__(cls, text):
        d = float.__new__(cls, text)
        d.text = text
        return d


def significant_digits(text):
    mantissa = text.lstrip("-").lower().split("e")[0].replace(".", "")
    return mantissa.lstrip("0").rstrip("0") or "0"


def not_shortest(rows):
    """(row index, text, shortest) of the first DOUBLE not written as the
    shortest text that round-trips (repr is that text in Python), or None."""
    for i, row in enumerate(rows):
        for _, v in row:
            if isinstance(v, Double) and \
                    len(significant_digits(v.text)) != len(significant_digits(repr(float(v)))):
                return i, v.text, repr(float(v))
    return None


def kind(v):
    if isinstance(v, bool) or v is None:
        return repr(v)
    return "float" if isinstance(v, float) else type(v).__name__


def same_value(a, b, tol_scale):
    if isinstance(tol_scale, tuple) and tol_scale[0] == "approx":
        # COUNT_DISTINCT past its exact range: within the relative bound
        return kind(a) == kind(b) and abs(a - b) <= tol_scale[1] * a
    if isinstance(tol_scale, tuple) and tol_scale[0] == "sd":
        # STDDEV_SAMP over panes (Chan's merge) or one pass: the variances
        # agree to rounding on the values' magnitude; a square root can
        # make a tiny variance's difference large, so compare squares.
        if kind(a) != kind(b) or a is None:
            return kind(a) == kind(b)
        return abs(a * a - b * b) <= 1e-12 * max(1.0, tol_scale[1]) ** 2
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and \
            all(same_value(x, y, None) for x, y in zip(a, b))
    if kind(a) != kind(b):
        return False
    if isinstance(a, float):
        if a == b:
            return True
        if tol_scale is None:
            return False
        return abs(a - b) <= REL_TOL_HOPPING * max(abs(a), abs(b), tol_scale)
    return a == b


def compare_rows(expected, got, hopping):
    """Index of the first differing row, or None."""
    for i in range(max(len(expected), len(got))):
        if i >= len(expected) or i >= len(got):
            return i
        fields, scales = expected[i]
        g = got[i]
        if [k for k, _ in fields] != [k for k, _ in g]:
            return i
        for (k, a), (_, b) in zip(fields, g):
            tol = scales.get(k, 0.0) if hopping else None
            if isinstance(scales.get(k), tuple) and (scales[k][0] == "approx" or hopping):
                tol = scales[k]
            if not same_value(a, b, tol):
                return i
    return None


def show(row):
    return json.dumps(dict(row), separators=(",", ":"), ensure_ascii=False)


def run_case(seed, sluice, keep_all, basedir, check_shortest=True):
    rng = random.Random(seed)
    query = make_query(rng)
    case = os.path.join(basedir, "seed%d" % seed)
    os.makedirs(case, exist_ok=True)
    inp = os.path.join(case, "input.ndjson")
    lines = make_input(rng, query, inp)
    sql = sluice_ref.render_sql(query)
    with open(os.path.join(case, "pipeline.sql"), "w") as f:
        f.write(sql)
    with open(os.path.join(case, "query.json"), "w") as f:
        json.dump(query, f, indent=1)
    expected, stats = sluice_ref.run(query, lines)
    with open(os.path.join(case, "expected.ndjson"), "w") as f:
        for fields, _ in expected:
            f.write(show(fields) + "\n")
    # Hopping windows sum panes and sessions sum merged sessions: DOUBLE
    # SUM/AVG may differ from the sum in arrival order in the last bits.
    hopping = bool(query["window"]) and query["window"]["kind"] in ("HOPPING", "SESSION")
    problems = []
    for w in WORKERS:
        out = os.path.join(case, "got-w%d.ndjson" % w)
        try:
            p = subprocess.run([sluice, "run", os.path.join(case, "pipeline.sql"), "--input", inp,
                                "--output", out, "--workers", str(w), "--no-pin"],
                               capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            problems.append("--workers %d: could not run sluice: %s" % (w, e))
            continue
        if p.returncode != 0:
            problems.append("--workers %d: exit %d: %s" % (w, p.returncode, p.stderr.strip()[:2000]))
            continue
        with open(out, encoding="utf-8") as f:
            got = [json.loads(l, object_pairs_hook=list, parse_float=Double)
                   for l in f.read().splitlines() if l]
        i = compare_rows(expected, got, hopping)
        if i is not None:
            msg = ["--workers %d: rows differ at row %d (expected %d rows, got %d)"
                   % (w, i + 1, len(expected), len(got))]
            for j in range(max(0, i - 2), min(max(len(expected), len(got)), i + 4)):
                e = show(expected[j][0]) if j < len(expected) else "(none)"
                g = show(got[j]) if j < len(got) else "(none)"
                mark = "  " if e == g else "! "
                msg.append("%s row %d\n     expected %s\n     got      %s" % (mark, j + 1, e, g))
            problems.append("\n".join(msg))
            continue
        bad = not_shortest(got) if check_shortest else None
        if bad:
            problems.append("--workers %d: row %d: DOUBLE written as %s, not the shortest "
                            "round-trip text %s" % (w, bad[0] + 1, bad[1], bad[2]))
        ms, mq = SUMMARY_STREAM.search(p.stderr), SUMMARY_QUERY.search(p.stderr)
        if ms and mq:
            gs = {"read": int(ms.group(1)), "dropped": int(ms.group(2)), "rows": int(mq.group(1)),
                  "late": int(mq.group(2)), "filtered": int(mq.group(3)), "null_key": int(mq.group(4))}
            if gs != stats:
                problems.append("--workers %d: summary counters differ:\n     expected %s\n     got      %s"
                                % (w, stats, gs))
        else:
            problems.append("--workers %d: could not parse the summary:\n%s" % (w, p.stderr))
    if not problems and not keep_all:
        shutil.rmtree(case)
    return seed, sql, inp, case, problems, len(expected)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--first", type=int, default=0, help="first seed (default 0)")
    ap.add_argument("--sluice", default=DEFAULT_SLUICE)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--no-shortest", action="store_true",
                    help="do not require DOUBLEs in the shortest round-trip text")
    ap.add_argument("--keep", action="store_true", help="keep every case, not only failures")
    args = ap.parse_args()
    if not os.access(args.sluice, os.X_OK):
        print("difftest: %s is not an executable" % args.sluice, file=sys.stderr)
        return 2
    t0 = time.time()
    basedir = tempfile.mkdtemp(prefix="sluice-difftest-")
    # A private copy, so that a rebuild during the run cannot disturb it.
    sluice = os.path.join(basedir, "sluice")
    shutil.copy2(args.sluice, sluice)
    failed = []
    rows = 0
    seeds = range(args.first, args.first + args.seeds)
    with concurrent.futures.ProcessPoolExecutor(max_workers=args.jobs) as ex:
        futs = [ex.submit(run_case, s, sluice, args.keep, basedir,
                              not args.no_shortest) for s in seeds]
        for fut in futs:
            seed, sql, inp, case, problems, n = fut.result()
            rows += n
            if problems:
                failed.append(seed)
                if len(failed) <= 3:
                    print("=" * 72)
                    print("FAIL seed %d   (case kept in %s)" % (seed, case))
                    print("input: %s" % inp)
                    print("rerun: %s run %s/pipeline.sql --input %s --output - --workers 1"
                          % (args.sluice, case, inp))
                    print(sql)
                    for pr in problems:
                        print(pr)
    dt = time.time() - t0
    print("difftest: %d seeds (%d..%d), %d failed%s, %d reference rows, %.1f s"
          % (args.seeds, args.first, args.first + args.seeds - 1, len(failed),
             (" " + str(failed[:20])) if failed else "", rows, dt))
    if not failed and not args.keep:
        shutil.rmtree(basedir, ignore_errors=True)
    elif args.keep:
        print("cases kept in %s" % basedir)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
