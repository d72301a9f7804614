/*
 * test_plan.c - cmocka tests of engine/plan.{h,c}: sl_plan_load_string.
 *
 * Error cases compare the whole message, "t.sql:LINE:COL: text", with the
 * position computed from the script itself (the n-th occurrence of the
 * construct at fault), so a message that points at the wrong token fails.
 * Successful cases check the plan's data: sources and columns, output
 * names and their JSON keys, aggregate deduplication and layout, the
 * columns the worker reads, window fields, emit mode, settings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/buf.h"
#include "engine/plan.h"

#define STREAM                                                                      \
        "CREATE STREAM tx (userId STRING KEY, amount DOUBLE, qty INTEGER,\n"       \
        "                  note STRING, ts BIGINT, ok BOOLEAN)\n"                  \
        "  WITH (KAFKA_TOPIC = 'tx-topic', VALUE_FORMAT = 'JSON', TIMESTAMP = 'ts');\n"

/* "LINE:COL" of the nth (1-based) occurrence of needle in src. */
static void pos_of(const char *src, const char *needle, int nth, char *out,
                   size_t outlen)
{
        const char *p = src;
        for (int i = 0; i < nth; i++) {
                p = strstr(i ? p + 1 : p, needle);
                if (!p)
                        fail_msg("'%s' occurs fewer than %d times", needle, nth);
        }
        unsigned line = 1, col = 1;
        for (const char *c = src; c < p; c++) {
                if (*c == '\n') {
                        line++;
                        col = 1;
                } else {
                        col++;
                }
        }
        snprintf(out, outlen, "%u:%u", line, col);
}

static struct sl_plan *load(const char *sql, char *err, size_t errlen)
{
        err[0] = '\0';
        return sl_plan_load_string(sql, strlen(sql), "t.sql", err, errlen);
}

static struct sl_plan *load_ok(const char *sql)
{
        char err[512];
        struct sl_plan *p = load(sql, err, sizeof err);
        if (!p)
                fail_msg("plan failed: %s", err);
        return p;
}

/* The plan fails with msg at the nth occurrence of at (NULL: no position). */
static void expect_error(const char *sql, const char *at, int nth, const char *msg)
{
        char err[512], want[600], pos[32];
        struct sl_plan *p = load(sql, err, sizeof err);
        if (p) {
                sl_plan_free(p);
                fail_msg("plan succeeded; expected: %s", msg);
        }
        if (at) {
                pos_of(sql, at, nth, pos, sizeof pos);
                snprintf(want, sizeof want, "t.sql:%s: %s", pos, msg);
        } else {
                snprintf(want, sizeof want, "t.sql: %s", msg);
        }
        assert_string_equal(err, want);
}

/* ---- errors --------------------------------------------------------- */

static void test_unknown_column(void **state)
{
        (void)state;
        /* did you mean: differs only by case */
        expect_error(STREAM "CREATE STREAM o AS SELECT userid, amount FROM tx;",
                     "userid", 1,
                     "unknown column 'userid' in stream 'tx' (did you mean 'userId'? names are case-sensitive)");
        expect_error(STREAM "CREATE STREAM o AS SELECT amount,\n  nope + 1 AS x FROM tx;",
                     "nope", 1, "unknown column 'nope' in stream 'tx'");
        /* in WHERE, in an aggregate argument, in GROUP BY, in HAVING */
        expect_error(STREAM "CREATE STREAM o AS SELECT amount FROM tx WHERE AMOUNT > 0;",
                     "AMOUNT", 1,
                     "unknown column 'AMOUNT' in stream 'tx' (did you mean 'amount'? names are case-sensitive)");
        expect_error(STREAM "CREATE TABLE o AS SELECT userId, SUM(amt) AS s FROM tx GROUP BY userId;",
                     "amt", 1, "unknown column 'amt' in stream 'tx'");
        expect_error(STREAM "CREATE TABLE o AS SELECT COUNT(*) AS n FROM tx GROUP BY USERID;",
                     "USERID", 1,
                     "unknown column 'USERID' in stream 'tx' (did you mean 'userId'? names are case-sensitive)");
        expect_error(STREAM "CREATE TABLE o AS SELECT userId, COUNT(*) AS n FROM tx GROUP BY userId\n"
                            "  HAVING bogus > 1;",
                     "bogus", 1, "unknown column 'bogus' in stream 'tx'");
        /* a qualifier that is not the source */
        expect_error(STREAM "CREATE STREAM o AS SELECT other.amount FROM tx;",
                     "other", 1, "'other' is not the stream this query reads (tx)");
        /* TIMESTAMP names an unknown column */
        expect_error("CREATE STREAM s (a BIGINT) WITH (TIMESTAMP = 'A');\n"
                     "CREATE STREAM o AS SELECT a FROM s;",
                     "'A'", 1,
                     "TIMESTAMP: unknown column 'A' in stream 's' (did you mean 'a'? names are case-sensitive)");
        /* a quoted name with line breaks: the message stays one line
         * (found by fuzz_sql: tests/fuzz/regress/sql/plan-error-quotes-newline) */
        expect_error("CREATE STREAM s (a BIGINT) WITH (TIMESTAMP = 'x\ny\r\nz');\n"
                     "CREATE STREAM o AS SELECT a FROM s;",
                     "'x", 1, "TIMESTAMP: unknown column 'x y  z' in stream 's'");
        expect_error("CREATE STREAM s (a BIGINT);\n"
                     "CREATE STREAM o AS SELECT `b\nc` FROM s;",
                     "`b", 1, "unknown column 'b c' in stream 's'");
}

static void test_group_by_errors(void **state)
{
        (void)state;
        expect_error(STREAM "CREATE TABLE o AS SELECT userId, amount FROM tx GROUP BY userId;",
                     "amount FROM", 1,
                     "column 'amount' must be in GROUP BY or inside an aggregate function");
        /* also inside an expression, and in HAVING */
        expect_error(STREAM "CREATE TABLE o AS SELECT userId, COUNT(*) * qty AS x FROM tx GROUP BY userId;",
                     "qty AS", 1,
                     "column 'qty' must be in GROUP BY or inside an aggregate function");
        expect_error(STREAM "CREATE TABLE o AS SELECT userId, COUNT(*) AS n FROM tx GROUP BY userId\n"
                            "HAVING qty > 2;",
                     "qty >", 1,
                     "column 'qty' must be in GROUP BY or inside an aggregate function");
        expect_error(STREAM "CREATE TABLE o AS SELECT COUNT(*) AS n FROM tx GROUP BY userId, qty + 1;",
                     "qty + 1", 1, "GROUP BY supports column names only; found an expression");
        expect_error(STREAM "CREATE TABLE o AS SELECT COUNT(*) AS n FROM tx GROUP BY userId, note, userId;",
                     "userId;", 1, "'userId' appears twice in GROUP BY");
        expect_error(STREAM "CREATE TABLE o AS SELECT COUNT(*) AS n FROM tx;",
                     "SELECT COUNT", 1,
                     "CREATE TABLE AS SELECT needs GROUP BY (a table is keyed by its group)");
}

/* GROUP BY over SL_MAX_GROUP columns, and more than SL_MAX_AGGS aggregates */
static void test_limits(void **state)
{
        (void)state;
        char sql[8192], *e = sql;
        e += sprintf(e, "CREATE STREAM w (");
        for (int i = 0; i < 20; i++)
                e += sprintf(e, "%sc%02d BIGINT", i ? ", " : "", i);
        e += sprintf(e, ");\nCREATE TABLE o AS SELECT COUNT(*) AS n FROM w GROUP BY ");
        for (int i = 0; i < SL_MAX_GROUP + 1; i++)
                e += sprintf(e, "%sc%02d", i ? ", " : "", i);
        e += sprintf(e, ";");
        char at[8];
        snprintf(at, sizeof at, "c%02d;", SL_MAX_GROUP);
        expect_error(sql, at, 1, "too many GROUP BY columns (at most 16)");
        /* exactly SL_MAX_GROUP is fine */
        e = strstr(sql, at);
        strcpy(e - 2, ";");
        struct sl_plan *p = load_ok(sql);
        assert_int_equal(p->queries[0].ngroup, SL_MAX_GROUP);
        sl_plan_free(p);

        /* 64 distinct aggregates plan; the 65th is refused at its call */
        e = sql;
        e += sprintf(e, STREAM "CREATE TABLE o AS SELECT userId");
        for (int i = 0; i < SL_MAX_AGGS; i++)
                e += sprintf(e, ", SUM(qty + %d) AS s%d", i, i);
        strcpy(e, " FROM tx GROUP BY userId;");
        p = load_ok(sql);
        assert_int_equal(p->queries[0].nagg, SL_MAX_AGGS);
        sl_plan_free(p);
        sprintf(e, ", MAX(qty) AS mx FROM tx GROUP BY userId;");
        expect_error(sql, "MAX(qty)", 1, "too many aggregates (at most 64)");
}

static void test_aggregate_errors(void **state)
{
        (void)state;
        expect_error(STREAM "CREATE TABLE o AS SELECT userId, COUNT(*) AS n FROM tx\n"
                            "  WHERE count(*) > 1 GROUP BY userId;",
                     "count(*)", 1,
                     "aggregate function count is not allowed in WHERE (use HAVING to filter aggregates)");
        expect_error(STREAM "CREATE STREAM o AS SELECT SUM(amount) AS s FROM tx;",
                     "SUM", 1,
                     "aggregate function SUM is not allowed in a stream's SELECT (aggregates need CREATE TABLE ... GROUP BY)");
        expect_error(STREAM "CREATE TABLE o AS SELECT userId, SUM(MAX(amount)) AS s FROM tx GROUP BY userId;",
                     "MAX", 1,
                     "aggregate function MAX is not allowed in another aggregate's argument");
        expect_error(STREAM "CREATE TABLE o AS SELECT userId, MIN(note) AS m FROM tx GROUP BY userId;",
                     "MIN", 1,
                     "MIN needs a numeric argument (INTEGER, BIGINT or DOUBLE), found STRING");
        expect_error(STREAM "CREATE TABLE o AS SELECT userId, SUM(*) AS m FROM tx GROUP BY userId;",
                     "SUM", 1, "SUM(*) is not allowed; only COUNT(*)");
        expect_error(STREAM "CREATE TABLE o AS SELECT userId, AVG(amount, qty) AS m FROM tx GROUP BY userId;",
                     "AVG", 1, "AVG takes one argument, got 2");
        expect_error(STREAM "CREATE TABLE o AS SELECT userId, MEDIAN(amount) AS m FROM tx GROUP BY userId;",
                     "MEDIAN", 1, "unknown function 'MEDIAN'");
        expect_error(STREAM "CREATE STREAM o AS SELECT UPPER(note) AS m FROM tx;",
                     "UPPER", 1, "unknown function 'UPPER'");
        /* a type error inside an aggregate argument points inside it */
        expect_error(STREAM "CREATE TABLE o AS SELECT userId, SUM(note + 1) AS m FROM tx GROUP BY userId;",
                     "note + 1", 1, "operator + cannot be applied to STRING and BIGINT");
}

static void test_window_errors(void **state)
{
        (void)state;
        expect_error(STREAM "CREATE TABLE o AS SELECT userId, WINDOWSTART AS ws, COUNT(*) AS n\n"
                            "  FROM tx GROUP BY userId;",
                     "WINDOWSTART", 1, "WINDOWSTART needs a WINDOW clause");
        expect_error(STREAM "CREATE TABLE o AS SELECT userId, COUNT(*) AS n FROM tx GROUP BY userId\n"
                            "  HAVING WINDOWEND > 0;",
                     "WINDOWEND", 1, "WINDOWEND needs a WINDOW clause");
        expect_error(STREAM "CREATE STREAM o AS SELECT amount, WINDOWSTART AS ws FROM tx;",
                     "WINDOWSTART", 1,
                     "WINDOWSTART is only available in the SELECT or HAVING of a windowed aggregation");
        expect_error(STREAM "CREATE TABLE o AS SELECT userId, COUNT(*) AS n FROM tx\n"
                            "  WINDOW TUMBLING (SIZE 1 MINUTE) WHERE WINDOWSTART > 0 GROUP BY userId;",
                     "WINDOWSTART", 1,
                     "WINDOWSTART is only available in the SELECT or HAVING of a windowed aggregation");
        expect_error(STREAM "CREATE TABLE o AS SELECT userId, COUNT(*) AS n FROM tx GROUP BY userId\n"
                            "  EMIT FINAL;",
                     "EMIT", 1,
                     "EMIT FINAL needs a WINDOW clause (an unwindowed table never closes)");
        expect_error(STREAM "CREATE TABLE o AS SELECT userId, COUNT(*) AS n FROM tx\n"
                            "  WINDOW HOPPING (SIZE 1 DAY, ADVANCE BY 7 SECONDS) GROUP BY userId;",
                     "WINDOW", 1,
                     "this window keeps 86400 panes of 1000 ms per key (size + grace over "
                     "gcd(size, advance)); at most 4096 are supported");
}

static void test_session_errors(void **state)
{
        (void)state;
        expect_error(STREAM "CREATE TABLE o AS SELECT userId, COUNT(*) AS n FROM tx\n"
                            "  WINDOW SESSION (1 SECOND, GRACE PERIOD 1 HOUR) GROUP BY userId;",
                     "WINDOW", 1,
                     "this SESSION window keeps up to 3601 sessions per key "
                     "(ceil((gap + grace) / gap)); at most 256 are supported: "
                     "shorten the GRACE PERIOD or widen the gap");
        expect_error(STREAM "CREATE TABLE o WITH (VALUE_FORMAT = 'FLATBUFFERS') AS\n"
                            "  SELECT userId, COUNT(*) AS n FROM tx\n"
                            "  WINDOW SESSION (5 MINUTES) GROUP BY userId EMIT CHANGES;",
                     "WINDOW", 1,
                     "a SESSION window with EMIT CHANGES retracts merged sessions with "
                     "tombstones, which VALUE_FORMAT='FLATBUFFERS' rows cannot carry in a "
                     "file: use EMIT FINAL or JSON");
        expect_error(STREAM "CREATE STREAM o AS SELECT userId FROM tx WINDOW SESSION (5 MINUTES);",
                     "WINDOW", 1,
                     "WINDOW is only allowed in CREATE TABLE ... AS SELECT (a stream does not aggregate)");
        expect_error(STREAM "CREATE TABLE o AS SELECT userId, COUNT(*) AS n FROM tx\n"
                            "  WINDOW SESSION (10000000000 DAYS) GROUP BY userId;",
                     "WINDOW", 1, "SESSION gap must be between 1 ms and 576460752303423488 ms");
}

/* Sizes of a session window; FLATBUFFERS rows are fine with EMIT FINAL. */
static void test_session_query(void **state)
{
        (void)state;
        struct sl_plan *p = load_ok(STREAM
                "CREATE TABLE s1 AS SELECT userId, WINDOWSTART AS ws, WINDOWEND AS we, COUNT(*) AS n\n"
                "  FROM tx WINDOW SESSION (30 MINUTES) GROUP BY userId;\n"
                "CREATE TABLE s2 WITH (KAFKA_TOPIC = 'f', VALUE_FORMAT = 'FLATBUFFERS') AS\n"
                "  SELECT userId, SUM(amount) AS t FROM tx\n"
                "  WINDOW SESSION (10 SECONDS, GRACE PERIOD 25 SECONDS) GROUP BY userId EMIT FINAL;\n");
        const struct sl_query *q = &p->queries[0];
        assert_int_equal(q->win.kind, SL_WIN_SESSION);
        assert_true(q->win.size == 1800000 && q->win.advance == 1800000 && q->win.grace == 0);
        assert_int_equal(q->win.max_panes, 1); /* one open session without grace */
        assert_int_equal(q->emit, SL_EMIT_CHANGES);
        q = &p->queries[1];
        assert_true(q->win.size == 10000 && q->win.grace == 25000);
        assert_int_equal(q->win.max_panes, 4); /* ceil(35 s / 10 s) */
        assert_int_equal(q->emit, SL_EMIT_FINAL);
        struct sl_buf b = {0};
        sl_plan_explain(p, &b);
        assert_true(sl_buf_ok(&b));
        sl_buf_addc(&b, 0);
        assert_non_null(strstr(b.p, "window: SESSION (30 MINUTES, GRACE PERIOD 0"));
        assert_non_null(strstr(b.p, "per key a sorted list of at most 4 open sessions, merged on overlap"));
        sl_buf_free(&b);
        sl_plan_free(p);
}

static void test_property_errors(void **state)
{
        (void)state;
        expect_error("CREATE STREAM s (a BIGINT) WITH (KAFKA_TOPIC = 't', FORMAT = 'JSON');\n",
                     "FORMAT =", 1,
                     "unknown property 'FORMAT' (expected one of KAFKA_TOPIC, VALUE_FORMAT, "
                     "KEY_FORMAT, TIMESTAMP, PARTITIONS, REPLICAS)");
        expect_error(STREAM "CREATE TABLE o WITH (TIMESTAMP = 'ts') AS SELECT userId, COUNT(*) AS n\n"
                            "  FROM tx GROUP BY userId;",
                     "TIMESTAMP = 'ts')", 2,
                     "unknown property 'TIMESTAMP' (expected one of KAFKA_TOPIC, VALUE_FORMAT, "
                     "KEY_FORMAT, PARTITIONS, REPLICAS)");
        expect_error("CREATE STREAM s (a BIGINT) WITH (VALUE_FORMAT = 'AVRO');\n",
                     "'AVRO'", 1, "VALUE_FORMAT 'AVRO' is not supported (supported: JSON, FLATBUFFERS)");
        expect_error(STREAM "CREATE STREAM o WITH (value_format = 'protobuf') AS SELECT amount FROM tx;",
                     "'protobuf'", 1,
                     "VALUE_FORMAT 'protobuf' is not supported (supported: JSON, FLATBUFFERS)");
        expect_error("CREATE STREAM s (a BIGINT) WITH (KAFKA_TOPIC = 't', kafka_topic = 'u');\n",
                     "kafka_topic", 1, "property 'kafka_topic' given twice");
        expect_error("CREATE STREAM s (a BIGINT) WITH (KAFKA_TOPIC = 5);\n",
                     "5)", 1, "property KAFKA_TOPIC needs a string value, e.g. KAFKA_TOPIC='...'");
        /* TIMESTAMP must be an integer column */
        expect_error("CREATE STREAM s (a BIGINT, t STRING) WITH (TIMESTAMP = 't');\n"
                     "CREATE STREAM o AS SELECT a FROM s;",
                     "'t')", 1,
                     "TIMESTAMP column 't' must be BIGINT (epoch milliseconds), not STRING");
        expect_error("CREATE STREAM s (a BIGINT, t DOUBLE) WITH (TIMESTAMP = 't');\n"
                     "CREATE STREAM o AS SELECT a FROM s;",
                     "'t')", 1,
                     "TIMESTAMP column 't' must be BIGINT (epoch milliseconds), not DOUBLE");
}

static void test_name_errors(void **state)
{
        (void)state;
        expect_error(STREAM "CREATE STREAM o AS SELECT userId, amount, note AS userId FROM tx;",
                     "note AS", 1,
                     "output field 'userId' appears twice; give one an alias with AS");
        expect_error(STREAM "CREATE TABLE o AS SELECT userId, COUNT(*) AS n, SUM(qty) AS n\n"
                            "  FROM tx GROUP BY userId;",
                     "SUM(qty)", 1,
                     "output field 'n' appears twice; give one an alias with AS");
        /* a generated name can collide with an alias */
        expect_error(STREAM "CREATE STREAM o AS SELECT amount AS KSQL_COL_1, amount + 1 FROM tx;",
                     "amount + 1", 1,
                     "output field 'KSQL_COL_1' appears twice; give one an alias with AS");
        expect_error(STREAM "CREATE STREAM o AS SELECT amount FROM txs;",
                     "txs", 1,
                     "unknown stream 'txs' (declare it with CREATE STREAM txs (...) WITH (...) above this query)");
        /* declared below the query: not visible yet */
        expect_error("CREATE STREAM o AS SELECT a FROM s;\nCREATE STREAM s (a BIGINT);",
                     "s;", 1,
                     "unknown stream 's' (declare it with CREATE STREAM s (...) WITH (...) above this query)");
        expect_error(STREAM "CREATE STREAM o AS SELECT amount FROM tx;\n"
                            "CREATE STREAM o2 AS SELECT amount FROM o;",
                     "o;", 1,
                     "reading from 'o', the output of another query, is not supported yet: "
                     "declare its topic with CREATE STREAM (...) and run it as a second pipeline");
        expect_error(STREAM "CREATE STREAM TX AS SELECT amount FROM tx;",
                     "TX AS", 1, "'TX' is already defined");
        expect_error("CREATE STREAM s (a BIGINT, b STRING, a DOUBLE);\n",
                     "a DOUBLE", 1, "column 'a' declared twice");
        expect_error(STREAM, NULL, 0,
                     "no query: add a CREATE TABLE ... AS SELECT or CREATE STREAM ... AS SELECT");
}

static void test_condition_errors(void **state)
{
        (void)state;
        expect_error(STREAM "CREATE STREAM o AS SELECT amount FROM tx WHERE qty + 1;",
                     "qty + 1", 1, "WHERE needs a BOOLEAN condition, found BIGINT");
        expect_error(STREAM "CREATE TABLE o AS SELECT userId, COUNT(*) AS n FROM tx GROUP BY userId\n"
                            "  HAVING SUM(amount);",
                     "SUM(amount)", 1, "HAVING needs a BOOLEAN condition, found DOUBLE");
        expect_error(STREAM "CREATE STREAM o AS SELECT amount FROM tx WHERE note > 3;",
                     "note > 3", 1, "cannot compare STRING with BIGINT");
}

/* Parse errors come back with the same FILE:LINE:COL prefix. */
static void test_parse_error_prefix(void **state)
{
        (void)state;
        char err[512];
        assert_null(load("CREATE STREAM s (a BIGINT) WITH (KAFKA_TOPIC = 't'\n  oops", err, sizeof err));
        assert_int_equal(strncmp(err, "t.sql:2:3: ", 11), 0);
        /* a short buffer is truncated and terminated */
        char small[12];
        memset(small, 'x', sizeof small);
        assert_null(sl_plan_load_string(STREAM, strlen(STREAM), "t.sql", small, 8));
        assert_string_equal(small, "t.sql: ");
        assert_int_equal(small[8], 'x');
}

/* ---- successful plans ---------------------------------------------- */

#define T0 STREAM "CREATE TABLE o AS SELECT userId, "
#define T1 " FROM tx GROUP BY userId;"
#define HOP " FROM tx WINDOW HOPPING (SIZE 2 MINUTES, ADVANCE BY 1 MINUTE) GROUP BY userId;"

/* COUNT_DISTINCT, TOPK, TOPKDISTINCT, LATEST/EARLIEST_BY_OFFSET,
 * STDDEV_SAMP, EMA: arguments, literals, types, windows, formats. */
static void test_ext_aggregate_errors(void **state)
{
        (void)state;
        expect_error(T0 "TOPK(amount) AS t" T1, "TOPK", 1,
                     "TOPK takes two arguments (a value and k), got 1");
        expect_error(T0 "TOPKDISTINCT(amount, 1, 2) AS t" T1, "TOPKDISTINCT", 1,
                     "TOPKDISTINCT takes two arguments (a value and k), got 3");
        expect_error(T0 "EMA(amount) AS e" T1, "EMA", 1,
                     "EMA takes two arguments (a value and alpha), got 1");
        expect_error(T0 "COUNT_DISTINCT(note, qty) AS c" T1, "COUNT_DISTINCT", 1,
                     "COUNT_DISTINCT takes one argument, got 2");
        expect_error(T0 "LATEST_BY_OFFSET(*) AS c" T1, "LATEST_BY_OFFSET", 1,
                     "LATEST_BY_OFFSET(*) is not allowed; only COUNT(*)");
        /* k: an integer literal in [1, 100], reported at the literal */
        expect_error(T0 "TOPK(amount, qty) AS t" T1, "qty)", 1,
                     "TOPK's k must be an integer literal between 1 and 100");
        expect_error(T0 "TOPK(amount, 2.5) AS t" T1, "2.5", 1,
                     "TOPK's k must be an integer literal between 1 and 100");
        expect_error(T0 "TOPK(amount, 1 + 1) AS t" T1, "1 + 1", 1,
                     "TOPK's k must be an integer literal between 1 and 100");
        expect_error(T0 "TOPK(amount, 0) AS t" T1, "0)", 1,
                     "TOPK's k must be between 1 and 100, got 0");
        expect_error(T0 "TOPKDISTINCT(amount, -3) AS t" T1, "-3", 1,
                     "TOPKDISTINCT's k must be between 1 and 100, got -3");
        expect_error(T0 "TOPK(amount, 101) AS t" T1, "101", 1,
                     "TOPK's k must be between 1 and 100, got 101");
        /* alpha: a number literal in (0, 1] */
        expect_error(T0 "EMA(amount, qty) AS e" T1, "qty)", 1,
                     "EMA's alpha must be a number literal in (0, 1]");
        expect_error(T0 "EMA(amount, 'x') AS e" T1, "'x'", 1,
                     "EMA's alpha must be a number literal in (0, 1]");
        expect_error(T0 "EMA(amount, 0) AS e" T1, "0)", 1,
                     "EMA's alpha must be in (0, 1], got 0");
        expect_error(T0 "EMA(amount, 1.5) AS e" T1, "1.5", 1,
                     "EMA's alpha must be in (0, 1], got 1.5");
        expect_error(T0 "EMA(amount, -0.5) AS e" T1, "-0.5", 1,
                     "EMA's alpha must be in (0, 1], got -0.5");
        expect_error(T0 "STDEV_SAMP(qty) AS s" T1, "STDEV_SAMP", 1,
                     "unknown function 'STDEV_SAMP' (did you mean STDDEV_SAMP?)");
        expect_error(T0 "latest_by_ofset(qty) AS s" T1, "latest_by_ofset", 1,
                     "unknown function 'latest_by_ofset' (did you mean LATEST_BY_OFFSET?)");
        /* argument types */
        expect_error(T0 "TOPK(note, 3) AS t" T1, "TOPK", 1,
                     "TOPK needs a numeric argument (INTEGER, BIGINT or DOUBLE), found STRING");
        expect_error(T0 "TOPKDISTINCT(ok, 3) AS t" T1, "TOPKDISTINCT", 1,
                     "TOPKDISTINCT needs a numeric argument (INTEGER, BIGINT or DOUBLE), found BOOLEAN");
        expect_error(T0 "LATEST_BY_OFFSET(note) AS l" T1, "LATEST_BY_OFFSET", 1,
                     "LATEST_BY_OFFSET needs an INTEGER, BIGINT, DOUBLE or BOOLEAN argument "
                     "(STRING is not supported yet), found STRING");
        expect_error(T0 "STDDEV_SAMP(note) AS s" T1, "STDDEV_SAMP", 1,
                     "STDDEV_SAMP needs a numeric argument (INTEGER, BIGINT or DOUBLE), found STRING");
        expect_error(T0 "EMA(ok, 0.5) AS e" T1, "EMA", 1,
                     "EMA needs a numeric argument (INTEGER, BIGINT or DOUBLE), found BOOLEAN");
        expect_error(T0 "COUNT_DISTINCT(NULL) AS c" T1, "COUNT_DISTINCT", 1,
                     "COUNT_DISTINCT needs a typed argument, not a NULL literal, found NULL");
        /* EMA depends on record order: not across a hopping window's panes */
        expect_error(T0 "EMA(amount, 0.5) AS e" HOP, "EMA", 1,
                     "EMA cannot be used in a HOPPING window: it depends on record order, which the "
                     "window's panes do not keep (use a TUMBLING window or none)");
        /* nor across two sessions a record merges */
        expect_error(T0 "COUNT(*) AS n,\n  EMA(amount, 0.5) AS e"
                        " FROM tx WINDOW SESSION (5 MINUTES) GROUP BY userId;", "EMA", 1,
                     "EMA cannot be used in a SESSION window: it depends on record order, which "
                     "merging two sessions does not keep (use a TUMBLING window or none)");
        /* an ARRAY is selected as it is, never computed with */
        expect_error(T0 "TOPK(amount, 3) + 1 AS t" T1, "TOPK", 1,
                     "TOPK returns an ARRAY, which can only be selected as it is, not used in an expression");
        expect_error(T0 "COUNT(*) AS n" " FROM tx GROUP BY userId HAVING TOPK(qty, 2) IS NULL;", "TOPK", 1,
                     "TOPK returns an ARRAY, which can only be selected as it is, not used in an expression");
        expect_error(STREAM "CREATE TABLE o WITH (VALUE_FORMAT = 'FLATBUFFERS') AS\n"
                            "  SELECT userId, TOPK(qty, 2) AS t" T1,
                     "TOPK", 1,
                     "'t' is an ARRAY, which VALUE_FORMAT='FLATBUFFERS' rows cannot hold yet (use VALUE_FORMAT='JSON')");
        /* state per key is bounded */
        expect_error(T0 "COUNT_DISTINCT(note) AS c FROM tx\n"
                     "  WINDOW HOPPING (SIZE 4090 MINUTES, ADVANCE BY 1 MINUTE, GRACE PERIOD 0 SECONDS) GROUP BY userId;",
                     "SELECT", 1,
                     "the aggregates need 16850800 bytes of state per key (4090 live panes of 4120 bytes), "
                     "more than 16777216: use fewer or smaller aggregates (COUNT_DISTINCT takes 4104 bytes a pane)");
}

/* The state layout: each aggregate at its offset, sizes adding up. */
static void test_ext_aggregate_layout(void **state)
{
        (void)state;
        struct sl_plan *p = load_ok(T0 "COUNT(*) AS n, TOPK(qty, 3) AS t, COUNT_DISTINCT(note) AS c,\n"
                                    "  topk(qty, 3) AS t2, TOPK(qty, 4) AS t4, EMA(amount, 1) AS e,\n"
                                    "  STDDEV_SAMP(qty) AS s, EARLIEST_BY_OFFSET(ok) AS f" T1);
        const struct sl_query *q = &p->queries[0];
        assert_int_equal(q->nagg, 7); /* topk(qty, 3) is TOPK(qty, 3) */
        static const uint32_t off[] = {0, 16, 16 + 32, 16 + 32 + 4104, 16 + 32 + 4104 + 40,
                                       16 + 32 + 4104 + 40 + 16, 16 + 32 + 4104 + 40 + 16 + 24};
        for (uint32_t a = 0; a < q->nagg; a++)
                assert_int_equal(q->aggs[a].desc.off, off[a]);
        assert_int_equal(q->acc_bytes, off[6] + 16);
        assert_int_equal(q->aggs[1].type, SL_T_ARRAY);
        assert_int_equal(q->aggs[1].desc.k, 3);
        assert_int_equal(q->aggs[3].desc.k, 4);
        assert_true(q->aggs[4].desc.alpha == 1.0);
        assert_int_equal(q->aggs[6].type, SL_T_BOOL);
        sl_plan_free(p);
        /* EMA in a tumbling window, TOPK in a hopping one */
        p = load_ok(T0 "EMA(qty, 0.1) AS e FROM tx WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY userId;");
        sl_plan_free(p);
        p = load_ok(T0 "TOPK(qty, 2) AS t, COUNT_DISTINCT(userId) AS c" HOP);
        sl_plan_free(p);
}

static void test_source(void **state)
{
        (void)state;
        struct sl_plan *p = load_ok("SET 'auto.offset.reset' = 'earliest';\n"
                                    "SET 'x' = '1';\nSET 'x' = '2';\n" STREAM
                                    "CREATE STREAM s2 (k STRING);\n"
                                    "CREATE STREAM o AS SELECT amount FROM tx;");
        assert_string_equal(p->file, "t.sql");
        assert_int_equal(p->nsources, 2);
        const struct sl_source *s = &p->sources[0];
        assert_string_equal(s->name, "tx");
        assert_string_equal(s->topic, "tx-topic");
        assert_int_equal(s->ncols, 6);
        static const char *const names[] = {"userId", "amount", "qty", "note", "ts", "ok"};
        static const enum sl_type types[] = {SL_T_STRING, SL_T_DOUBLE, SL_T_INT,
                                             SL_T_STRING, SL_T_BIGINT, SL_T_BOOL};
        for (int i = 0; i < 6; i++) {
                assert_string_equal(s->cols[i].name, names[i]);
                assert_int_equal(s->cols[i].type, types[i]);
                assert_int_equal(s->cols[i].key, i == 0);
        }
        assert_int_equal(s->ts_col, 4);
        assert_non_null(s->js);
        assert_int_equal(s->nqueries, 1);
        assert_int_equal(s->queries[0], 0);
        /* no KAFKA_TOPIC: the name; no TIMESTAMP: -1 */
        assert_string_equal(p->sources[1].topic, "s2");
        assert_int_equal(p->sources[1].ts_col, -1);
        assert_int_equal(p->sources[1].nqueries, 0);
        assert_int_equal(sl_plan_source_index(p, "tx"), 0);
        assert_int_equal(sl_plan_source_index(p, "s2"), 1);
        assert_int_equal(sl_plan_source_index(p, "TX"), -1);
        assert_string_equal(sl_plan_setting(p, "auto.offset.reset"), "earliest");
        assert_string_equal(sl_plan_setting(p, "x"), "2"); /* last SET wins */
        assert_int_equal(p->nsettings, 2);
        assert_null(sl_plan_setting(p, "y"));
        assert_true(p->hash != 0);
        sl_plan_free(p);
}

static void test_stream_query(void **state)
{
        (void)state;
        const char *sql = STREAM
                "CREATE STREAM big WITH (KAFKA_TOPIC = 'big-out') AS\n"
                "  SELECT userId, amount * 2 AS dbl, qty + 1, tx.note, 'x' FROM tx\n"
                "  WHERE amount > 100 AND ok;";
        struct sl_plan *p = load_ok(sql);
        assert_int_equal(p->nqueries, 1);
        const struct sl_query *q = &p->queries[0];
        assert_int_equal(q->index, 0);
        assert_string_equal(q->name, "big");
        assert_string_equal(q->topic, "big-out");
        assert_int_equal(q->kind, SL_Q_PROJECT);
        assert_int_equal(q->source, 0);
        assert_int_equal(q->emit, SL_EMIT_CHANGES);
        assert_non_null(q->where);
        assert_int_equal(q->nout, 5);
        /* alias, column name, KSQL_COL_<index>, qualified column, KSQL_COL */
        static const char *const names[] = {"userId", "dbl", "KSQL_COL_2", "note", "KSQL_COL_4"};
        for (int i = 0; i < 5; i++) {
                assert_string_equal(q->out[i].name, names[i]);
                char key[64];
                snprintf(key, sizeof key, "\"%s\":", names[i]);
                assert_int_equal(q->out[i].json_key_len, strlen(key));
                assert_memory_equal(q->out[i].json_key, key, strlen(key));
                assert_non_null(q->out[i].prog);
        }
        assert_int_equal(sl_prog_type(q->out[1].prog), SL_T_DOUBLE);
        assert_int_equal(sl_prog_type(q->out[2].prog), SL_T_BIGINT);
        assert_int_equal(sl_prog_type(q->out[4].prog), SL_T_STRING);
        assert_int_equal(sl_prog_as_slot(q->out[0].prog), 0);
        assert_int_equal(sl_prog_as_slot(q->out[3].prog), 3);
        /* used: the SELECT's columns (WHERE runs before routing) */
        assert_int_equal(q->used_cols, 4);
        static const uint32_t used[] = {0, 1, 2, 3};
        for (int i = 0; i < 4; i++)
                assert_int_equal(q->used[i], used[i]);
        /* the WHERE program reads the source row */
        struct sl_value row[6] = {0};
        row[1] = (struct sl_value){.u.d = 150, .type = SL_T_DOUBLE};
        row[5] = (struct sl_value){.u.b = true, .type = SL_T_BOOL};
        assert_true(sl_prog_test(q->where, row));
        row[1].u.d = 50;
        assert_false(sl_prog_test(q->where, row));
        sl_plan_free(p);
}

static void test_aggregate_query(void **state)
{
        (void)state;
        const char *sql = STREAM
                "CREATE TABLE agg AS\n"
                "  SELECT note, userId, SUM(amount) AS total, sum(amount) AS total2,\n"
                "         COUNT(*), count(*) + 1 AS c1, AVG(qty), MAX(amount * 2) AS mx,\n"
                "         WINDOWSTART, WINDOWEND AS we\n"
                "  FROM tx WINDOW HOPPING (SIZE 10 SECONDS, ADVANCE BY 4 SECONDS,\n"
                "                          GRACE PERIOD 3 SECONDS)\n"
                "  WHERE ok GROUP BY userId, note HAVING SUM(amount) > 10 AND COUNT(qty) > 0\n"
                "  EMIT FINAL;";
        struct sl_plan *p = load_ok(sql);
        const struct sl_query *q = &p->queries[0];
        assert_int_equal(q->kind, SL_Q_AGGREGATE);
        assert_string_equal(q->topic, "agg");
        assert_int_equal(q->emit, SL_EMIT_FINAL);
        assert_int_equal(q->ngroup, 2);
        assert_int_equal(q->group_cols[0], 0);
        assert_int_equal(q->group_cols[1], 3);
        assert_int_equal(q->group_types[0], SL_T_STRING);
        assert_int_equal(q->group_types[1], SL_T_STRING);
        /* SUM(amount) once (twice written, two cases), COUNT(*) once;
         * HAVING adds COUNT(qty) */
        assert_int_equal(q->nagg, 5);
        static const char *const texts[] = {"SUM(amount)", "COUNT(*)", "AVG(qty)",
                                            "MAX((amount * 2))", "COUNT(qty)"}; /* as sl_expr_format writes them */
        static const enum sl_agg_kind kinds[] = {SL_AGG_SUM, SL_AGG_COUNT_STAR, SL_AGG_AVG,
                                                 SL_AGG_MAX, SL_AGG_COUNT};
        static const enum sl_type rtypes[] = {SL_T_DOUBLE, SL_T_BIGINT, SL_T_DOUBLE,
                                              SL_T_DOUBLE, SL_T_BIGINT};
        for (int i = 0; i < 5; i++) {
                assert_string_equal(q->aggs[i].text, texts[i]);
                assert_int_equal(q->aggs[i].desc.kind, kinds[i]);
                assert_int_equal(q->aggs[i].type, rtypes[i]);
        }
        assert_null(q->aggs[1].arg); /* COUNT(*) */
        assert_int_equal(q->aggs[0].arg_slot, 1); /* amount */
        assert_int_equal(q->aggs[2].arg_slot, 2); /* qty */
        assert_int_equal(q->aggs[2].desc.arg_type, SL_T_INT);
        assert_int_equal(q->aggs[3].arg_slot, -1); /* an expression */
        assert_non_null(q->aggs[3].arg);
        assert_int_equal(q->env_size, 2 + 2 + 5);
        /* output names and their environment slots */
        assert_int_equal(q->nout, 10);
        static const char *const names[] = {"note", "userId", "total", "total2", "KSQL_COL_4",
                                            "c1", "KSQL_COL_6", "mx", "WINDOWSTART", "we"};
        static const int slots[] = {1, 0, 4, 4, 5, -1, 6, 7, 2, 3};
        for (int i = 0; i < 10; i++) {
                assert_string_equal(q->out[i].name, names[i]);
                assert_int_equal(sl_prog_as_slot(q->out[i].prog), slots[i]);
        }
        /* used: aggregate arguments only (amount, qty); group and WHERE
         * columns are read by the dispatcher */
        assert_int_equal(q->used_cols, 2);
        assert_int_equal(q->used[0], 1);
        assert_int_equal(q->used[1], 2);
        assert_non_null(q->where);
        assert_non_null(q->having);
        /* window fields */
        assert_int_equal(q->win.kind, SL_WIN_HOPPING);
        assert_true(q->win.size == 10000);
        assert_true(q->win.advance == 4000);
        assert_true(q->win.grace == 3000);
        assert_true(q->win.pane == 2000);
        assert_int_equal(q->win.pane_per_window, 5);
        assert_int_equal(q->win.max_panes, 7);
        /* HAVING evaluates over the output environment */
        struct sl_value env[9] = {0};
        env[4] = (struct sl_value){.u.d = 11, .type = SL_T_DOUBLE};
        env[8] = (struct sl_value){.u.i = 1, .type = SL_T_BIGINT};
        assert_true(sl_prog_test(q->having, env));
        env[8].u.i = 0;
        assert_false(sl_prog_test(q->having, env));
        sl_plan_free(p);
}

static void test_unwindowed_and_tumbling(void **state)
{
        (void)state;
        const char *sql = STREAM
                "CREATE TABLE t1 AS SELECT userId, COUNT(*) AS n FROM tx GROUP BY userId;\n"
                "CREATE TABLE t2 AS SELECT userId, MIN(ts) AS first FROM tx\n"
                "  WINDOW TUMBLING (SIZE 5 MINUTES, GRACE PERIOD 30 SECONDS) GROUP BY userId\n"
                "  EMIT CHANGES;\n";
        struct sl_plan *p = load_ok(sql);
        assert_int_equal(p->nqueries, 2);
        const struct sl_query *q = &p->queries[0];
        assert_int_equal(q->win.kind, SL_WIN_NONE);
        assert_int_equal(q->win.max_panes, 1);
        assert_int_equal(q->emit, SL_EMIT_CHANGES); /* the default */
        assert_int_equal(q->used_cols, 0);          /* COUNT(*) reads nothing */
        q = &p->queries[1];
        assert_int_equal(q->index, 1);
        assert_int_equal(q->win.kind, SL_WIN_TUMBLING);
        assert_true(q->win.size == 300000 && q->win.advance == 300000);
        assert_true(q->win.grace == 30000);
        assert_int_equal(q->win.max_panes, 2);
        assert_int_equal(q->emit, SL_EMIT_CHANGES);
        assert_int_equal(q->aggs[0].type, SL_T_BIGINT);
        assert_int_equal(q->used_cols, 1);
        assert_int_equal(q->used[0], 4);
        /* both queries read tx, in order */
        assert_int_equal(p->sources[0].nqueries, 2);
        assert_int_equal(p->sources[0].queries[0], 0);
        assert_int_equal(p->sources[0].queries[1], 1);
        sl_plan_free(p);
}

/* The hash ties state to the script text. */
#define CUSTOMERS                                                                   \
        "CREATE TABLE customers (id STRING PRIMARY KEY, tier STRING, region STRING,\n" \
        "                        userId STRING)\n"                                    \
        "  WITH (KAFKA_TOPIC = 'bss.customer.info');\n"

static void test_table_errors(void **state)
{
        (void)state;
        expect_error("CREATE TABLE c (id STRING, tier STRING) WITH (KAFKA_TOPIC = 'c');\n",
                     "c (", 1,
                     "table 'c' needs a PRIMARY KEY column (the key its rows are kept by), e.g. id STRING PRIMARY KEY");
        expect_error("CREATE TABLE c (id STRING PRIMARY KEY, k STRING PRIMARY KEY) WITH (KAFKA_TOPIC = 'c');\n",
                     "k STRING", 1,
                     "table 'c' has two PRIMARY KEY columns ('id' and 'k'); a table has one");
        expect_error("CREATE TABLE c (id STRING KEY, tier STRING) WITH (KAFKA_TOPIC = 'c');\n",
                     "id", 1,
                     "a table's key is declared PRIMARY KEY ('id' is declared KEY, which is for streams)");
        expect_error("CREATE TABLE c (id STRING PRIMARY KEY, ts BIGINT) WITH (TIMESTAMP = 'ts');\n",
                     "TIMESTAMP", 1,
                     "unknown property 'TIMESTAMP' (expected one of KAFKA_TOPIC, VALUE_FORMAT, KEY_FORMAT, PARTITIONS, REPLICAS)");
        expect_error("CREATE TABLE c (id STRING PRIMARY KEY) WITH (VALUE_FORMAT = 'FLATBUFFERS');\n",
                     "'FLATBUFFERS'", 1,
                     "VALUE_FORMAT 'FLATBUFFERS' is not supported for tables yet (use JSON)");
        expect_error("CREATE TABLE c (id STRING PRIMARY KEY, __deleted BOOLEAN);\n",
                     "__deleted", 1,
                     "column name '__deleted' is reserved in tables (it marks a delete in a file)");
        expect_error(STREAM "CREATE TABLE tx (id STRING PRIMARY KEY);\n", "tx (id", 1,
                     "'tx' is already defined");
        /* a table is read through a join only */
        expect_error(STREAM CUSTOMERS "CREATE STREAM o AS SELECT tier FROM customers;",
                     "customers;", 1,
                     "'customers' is a table: a query reads a stream (FROM) and joins tables with [LEFT] JOIN ... ON");
}

static void test_join_errors(void **state)
{
        (void)state;
        expect_error(STREAM "CREATE STREAM o AS SELECT amount FROM tx JOIN nobody n ON tx.userId = n.id;",
                     "nobody", 1,
                     "unknown table 'nobody' (declare it with CREATE TABLE nobody (... PRIMARY KEY) WITH (...) above this query)");
        expect_error(STREAM CUSTOMERS "CREATE TABLE c2 (id STRING PRIMARY KEY);\n"
                     "CREATE STREAM o AS SELECT tier FROM customers JOIN c2 ON customers.id = c2.id;",
                     "customers JOIN", 1,
                     "a table-table join is not supported: FROM names a stream, JOIN a table");
        expect_error(STREAM CUSTOMERS "CREATE STREAM o AS SELECT tier FROM customers JOIN tx ON customers.id = tx.userId;",
                     "customers JOIN", 1,
                     "'customers' is a table: write the stream first (FROM tx ... JOIN customers)");
        expect_error(STREAM "CREATE STREAM tx2 (userId STRING) WITH (KAFKA_TOPIC = 'x');\n"
                     "CREATE STREAM o AS SELECT amount FROM tx JOIN tx2 ON tx.userId = tx2.userId;",
                     "tx2 ON", 1,
                     "'tx2' is a stream: stream-stream joins (WITHIN) are not supported yet; JOIN a table declared with CREATE TABLE");
        expect_error(STREAM "CREATE STREAM big AS SELECT userId, amount FROM tx;\n"
                     "CREATE STREAM o AS SELECT amount FROM tx JOIN big ON tx.userId = big.userId;",
                     "big ON", 1,
                     "joining 'big', the output of another query, is not supported yet: "
                     "declare its topic with CREATE TABLE big (...) WITH (...)");
        expect_error(STREAM CUSTOMERS "CREATE STREAM o AS SELECT amount FROM tx t JOIN customers t ON t.userId = t.id;",
                     "t ON", 1, "'t' names both sides of the join: give them different aliases");
        /* ON: the table's PRIMARY KEY, equality of two columns, one per side */
        expect_error(STREAM CUSTOMERS "CREATE STREAM o AS SELECT amount FROM tx JOIN customers c ON tx.note = c.region;",
                     "c.region", 1,
                     "a stream-table join must be ON the table's PRIMARY KEY 'id'; 'region' is not it");
        expect_error(STREAM CUSTOMERS "CREATE STREAM o AS SELECT amount FROM tx JOIN customers c ON c.id = c.tier;",
                     "c.id", 1,
                     "JOIN ... ON must compare a column of tx with the PRIMARY KEY of customers; both sides are customers columns");
        expect_error(STREAM CUSTOMERS "CREATE STREAM o AS SELECT amount FROM tx JOIN customers c ON tx.userId <> c.id;",
                     "tx.userId <>", 1,
                     "JOIN ... ON must be a stream column = the table's PRIMARY KEY, e.g. ON o.customerId = c.id");
        expect_error(STREAM CUSTOMERS "CREATE STREAM o AS SELECT amount FROM tx JOIN customers c\n"
                     "  ON tx.userId = c.id AND tx.ok;",
                     "tx.userId =", 1,
                     "JOIN ... ON must be a stream column = the table's PRIMARY KEY, e.g. ON o.customerId = c.id");
        expect_error(STREAM CUSTOMERS "CREATE STREAM o AS SELECT amount FROM tx JOIN customers c ON tx.qty = c.id;",
                     "tx.qty", 1,
                     "JOIN ... ON compares qty (INTEGER) with id (STRING): the types must match");
        expect_error(STREAM CUSTOMERS "CREATE STREAM o AS SELECT amount FROM tx JOIN customers c ON tx.userId = c.idd;",
                     "c.idd", 1, "unknown column 'idd' in table 'customers'");
        /* names: ambiguous, unknown, qualifiers */
        expect_error(STREAM CUSTOMERS "CREATE STREAM o AS SELECT userId FROM tx JOIN customers c ON tx.userId = c.id;",
                     "userId FROM", 1,
                     "ambiguous column 'userId': tx and customers both have it; write tx.userId or c.userId");
        expect_error(STREAM CUSTOMERS "CREATE STREAM o AS SELECT amount FROM tx t JOIN customers c ON t.userId = c.id\n"
                     "  WHERE userId = 'u1';",
                     "userId = 'u1'", 1,
                     "ambiguous column 'userId': tx and customers both have it; write t.userId or c.userId");
        expect_error(STREAM CUSTOMERS "CREATE STREAM o AS SELECT nope FROM tx JOIN customers c ON tx.userId = c.id;",
                     "nope", 1, "unknown column 'nope' in stream 'tx' or table 'customers'");
        expect_error(STREAM CUSTOMERS "CREATE STREAM o AS SELECT Tier FROM tx JOIN customers c ON tx.userId = c.id;",
                     "Tier", 1,
                     "unknown column 'Tier' in table 'customers' (did you mean 'tier'? names are case-sensitive)");
        expect_error(STREAM CUSTOMERS "CREATE STREAM o AS SELECT c.amount FROM tx JOIN customers c ON tx.userId = c.id;",
                     "c.amount", 1, "unknown column 'amount' in table 'customers'");
        expect_error(STREAM CUSTOMERS "CREATE STREAM o AS SELECT x.tier FROM tx JOIN customers c ON tx.userId = c.id;",
                     "x.tier", 1, "'x' is neither the stream (tx) nor the table (c) of this query");
        /* with an alias, the qualifier is the alias */
        expect_error(STREAM CUSTOMERS "CREATE STREAM o AS SELECT customers.tier FROM tx JOIN customers c ON tx.userId = c.id;",
                     "customers.tier", 1, "'customers' is neither the stream (tx) nor the table (c) of this query");
        expect_error(STREAM "CREATE STREAM o AS SELECT tx.amount FROM tx t;",
                     "tx.amount", 1, "'tx' is not the stream this query reads (t)");
        /* GROUP BY a table column: the SELECT must use that column */
        expect_error(STREAM CUSTOMERS "CREATE TABLE o AS SELECT c.tier, COUNT(*) AS n\n"
                     "  FROM tx JOIN customers c ON tx.userId = c.id GROUP BY c.region;",
                     "c.tier", 1, "column 'tier' must be in GROUP BY or inside an aggregate function");
        expect_error(STREAM CUSTOMERS "CREATE TABLE o AS SELECT COUNT(*) AS n\n"
                     "  FROM tx JOIN customers c ON tx.userId = c.id GROUP BY c.region, region;",
                     "region;", 1, "'region' appears twice in GROUP BY");
        expect_error(STREAM CUSTOMERS "CREATE TABLE o AS SELECT COUNT(*) AS n\n"
                     "  FROM tx JOIN customers c ON tx.userId = c.id GROUP BY c.regio;",
                     "c.regio", 1, "unknown column 'regio' in table 'customers'");
}

static void test_join_plan(void **state)
{
        (void)state;
        struct sl_plan *p = load_ok(STREAM CUSTOMERS
                "CREATE STREAM big AS SELECT t.amount, c.tier, region FROM tx t LEFT JOIN customers c\n"
                "  ON t.userId = c.id WHERE c.tier = 'gold';\n"
                "CREATE TABLE per_region AS SELECT c.region, SUM(amount) AS total\n"
                "  FROM tx INNER JOIN customers c ON tx.userId = c.id GROUP BY c.region;\n"
                "CREATE STREAM by_note AS SELECT tx.note, tier FROM tx JOIN customers ON note = customers.id;\n"
                "CREATE STREAM plain AS SELECT amount FROM tx;");
        assert_int_equal(p->nsources, 2);
        const struct sl_source *tx = &p->sources[0], *cu = &p->sources[1];
        assert_false(tx->table);
        assert_true(cu->table);
        assert_true(cu->joined);
        assert_int_equal(cu->pk_col, 0);
        assert_int_equal(cu->ncols, 4);
        assert_int_equal(cu->nqueries, 0);
        /* two joins: on userId (shared by two queries) and on note */
        assert_int_equal(tx->njoins, 2);
        assert_int_equal(tx->joins[0].table, 1);
        assert_int_equal(tx->joins[0].key_slot, 0);
        assert_int_equal(tx->joins[0].base, 6);
        assert_int_equal(tx->joins[1].key_slot, 3);
        assert_int_equal(tx->joins[1].base, 10);
        assert_int_equal(tx->nslots, 14);
        assert_string_equal(sl_plan_slot_column(p, tx, 7)->name, "tier");
        assert_string_equal(sl_plan_slot_column(p, tx, 13)->name, "userId");
        assert_string_equal(sl_plan_slot_column(p, tx, 2)->name, "qty");
        assert_null(sl_plan_slot_column(p, tx, 14));

        const struct sl_query *q = &p->queries[0];
        assert_int_equal(q->join, 0);
        assert_true(q->join_left);
        assert_string_equal(q->out[2].name, "region");
        /* the worker gets amount, tier and region: slots 1, 7, 8 */
        assert_int_equal(q->used_cols, 3);
        assert_int_equal(q->used[0], 1);
        assert_int_equal(q->used[1], 7);
        assert_int_equal(q->used[2], 8);

        q = &p->queries[1];
        assert_int_equal(q->join, 0);
        assert_false(q->join_left);
        assert_int_equal(q->ngroup, 1);
        assert_int_equal(q->group_cols[0], 8);
        assert_int_equal(q->group_types[0], SL_T_STRING);
        assert_string_equal(q->out[0].name, "region");

        q = &p->queries[2];
        assert_int_equal(q->join, 1);
        assert_false(q->join_left);
        assert_int_equal(q->used[1], 11);

        assert_int_equal(p->queries[3].join, -1);
        sl_plan_free(p);

        /* integer keys match INTEGER with BIGINT */
        p = load_ok("CREATE STREAM s (k INTEGER, v DOUBLE);\n"
                    "CREATE TABLE t (id BIGINT PRIMARY KEY, name STRING);\n"
                    "CREATE STREAM o AS SELECT v, name FROM s JOIN t ON s.k = t.id;");
        assert_int_equal(p->sources[0].joins[0].key_slot, 0);
        sl_plan_free(p);
}

static void test_hash(void **state)
{
        (void)state;
        const char *a = STREAM "CREATE STREAM o AS SELECT amount FROM tx;";
        const char *b = STREAM "CREATE STREAM o AS SELECT qty FROM tx;";
        struct sl_plan *pa = load_ok(a), *pa2 = load_ok(a), *pb = load_ok(b);
        assert_true(pa->hash == pa2->hash);
        assert_true(pa->hash != pb->hash);
        sl_plan_free(pa);
        sl_plan_free(pa2);
        sl_plan_free(pb);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_unknown_column),
                cmocka_unit_test(test_group_by_errors),
                cmocka_unit_test(test_limits),
                cmocka_unit_test(test_aggregate_errors),
                cmocka_unit_test(test_window_errors),
                cmocka_unit_test(test_session_errors),
                cmocka_unit_test(test_session_query),
                cmocka_unit_test(test_property_errors),
                cmocka_unit_test(test_name_errors),
                cmocka_unit_test(test_condition_errors),
                cmocka_unit_test(test_parse_error_prefix),
                cmocka_unit_test(test_ext_aggregate_errors),
                cmocka_unit_test(test_ext_aggregate_layout),
                cmocka_unit_test(test_source),
                cmocka_unit_test(test_stream_query),
                cmocka_unit_test(test_aggregate_query),
                cmocka_unit_test(test_unwindowed_and_tumbling),
                cmocka_unit_test(test_table_errors),
                cmocka_unit_test(test_join_errors),
                cmocka_unit_test(test_join_plan),
                cmocka_unit_test(test_hash),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
