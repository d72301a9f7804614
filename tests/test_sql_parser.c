/*
 * test_sql_parser.c - the syntax tree the parser builds, the errors it
 * reports (message and position), its limits on hostile input, and
 * sl_expr_format.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/sql/ast.h"

static struct sl_script *parse_ok(const char *src)
{
        struct sl_sql_error err;
        struct sl_script *script = sl_sql_parse(src, strlen(src), &err);
        if (!script)
                fail_msg("unexpected error %u:%u: %s\nin: %s", err.pos.line, err.pos.col, err.msg, src);
        return script;
}

static void assert_pos(struct sl_pos pos, uint32_t line, uint32_t col)
{
        if (pos.line != line || pos.col != col)
                fail_msg("position %u:%u, expected %u:%u", pos.line, pos.col, line, col);
}

static void assert_error(const char *src, uint32_t line, uint32_t col, const char *msg)
{
        struct sl_sql_error err;
        struct sl_script *script = sl_sql_parse(src, strlen(src), &err);
        if (script) {
                sl_script_free(script);
                fail_msg("parsed, expected %u:%u: %s\nin: %s", line, col, msg, src);
        }
        if (strcmp(err.msg, msg) != 0)
                fail_msg("message \"%s\", expected \"%s\"\nin: %s", err.msg, msg, src);
        if (err.pos.line != line || err.pos.col != col)
                fail_msg("position %u:%u, expected %u:%u for \"%s\"\nin: %s", err.pos.line,
                         err.pos.col, line, col, msg, src);
}

/* Parses "CREATE STREAM o AS SELECT <expr> FROM s"; the expression starts at col 27. */
#define EXPR_COL 27

static struct sl_script *parse_expr(const char *expr)
{
        char src[4096];
        snprintf(src, sizeof(src), "CREATE STREAM o AS SELECT %s FROM s", expr);
        return parse_ok(src);
}

static const struct sl_expr *first_item(const struct sl_script *script)
{
        return script->stmts[0].select->items[0].expr;
}

/* The formatted first select item of parse_expr(expr). */
static const char *formatted(const char *expr)
{
        static char buf[1024];
        struct sl_script *script = parse_expr(expr);
        size_t n = sl_expr_format(first_item(script), buf, sizeof(buf));
        assert_int_equal(n, strlen(buf));
        sl_script_free(script);
        return buf;
}

static void assert_column(const struct sl_expr *e, const char *name, uint32_t line, uint32_t col)
{
        assert_int_equal(e->kind, SL_EX_COLUMN);
        assert_string_equal(e->name, name);
        assert_pos(e->pos, line, col);
}

static const char design_example[] =
        "SET 'bootstrap.servers' = 'localhost:9092';\n"
        "CREATE STREAM transactions (transactionId STRING, userId STRING KEY,\n"
        "                            amount DOUBLE, `timestamp` BIGINT)\n"
        "  WITH (KAFKA_TOPIC = 'transactions-topic', VALUE_FORMAT = 'JSON',\n"
        "        TIMESTAMP = 'timestamp');\n"
        "CREATE TABLE moving_averages WITH (KAFKA_TOPIC = 'aggregated-transactions-topic') AS\n"
        "  SELECT userId, AVG(amount) AS movingAverage,\n"
        "         WINDOWSTART AS windowStart, WINDOWEND AS windowEnd\n"
        "  FROM transactions\n"
        "  WINDOW TUMBLING (SIZE 5 MINUTES, GRACE PERIOD 30 SECONDS)\n"
        "  GROUP BY userId\n"
        "  EMIT FINAL;\n";

static void test_design_example(void **state)
{
        (void)state;
        struct sl_script *script = parse_ok(design_example);
        assert_int_equal(script->nstmts, 3);

        const struct sl_stmt *set = &script->stmts[0];
        assert_int_equal(set->kind, SL_ST_SET);
        assert_pos(set->pos, 1, 1);
        assert_null(set->name);
        assert_string_equal(set->set_key, "bootstrap.servers");
        assert_string_equal(set->set_value, "localhost:9092");
        assert_pos(set->set_value_pos, 1, 27);

        const struct sl_stmt *cs = &script->stmts[1];
        assert_int_equal(cs->kind, SL_ST_CREATE_STREAM);
        assert_pos(cs->pos, 2, 1);
        assert_string_equal(cs->name, "transactions");
        assert_pos(cs->name_pos, 2, 15);
        assert_false(cs->or_replace);
        assert_null(cs->select);
        assert_int_equal(cs->ncols, 4);
        assert_string_equal(cs->cols[0].name, "transactionId");
        assert_int_equal(cs->cols[0].type, SL_T_STRING);
        assert_false(cs->cols[0].key);
        assert_pos(cs->cols[0].pos, 2, 29);
        assert_string_equal(cs->cols[1].name, "userId");
        assert_true(cs->cols[1].key);
        assert_pos(cs->cols[1].pos, 2, 51);
        assert_string_equal(cs->cols[2].name, "amount");
        assert_int_equal(cs->cols[2].type, SL_T_DOUBLE);
        assert_pos(cs->cols[2].pos, 3, 29);
        assert_string_equal(cs->cols[3].name, "timestamp");
        assert_int_equal(cs->cols[3].type, SL_T_BIGINT);
        assert_pos(cs->cols[3].pos, 3, 44);
        assert_int_equal(cs->nprops, 3);
        assert_string_equal(cs->props[0].name, "KAFKA_TOPIC");
        assert_true(cs->props[0].is_string);
        assert_string_equal(cs->props[0].str, "transactions-topic");
        assert_pos(cs->props[0].pos, 4, 9);
        assert_pos(cs->props[0].value_pos, 4, 23);
        assert_string_equal(cs->props[1].name, "VALUE_FORMAT");
        assert_string_equal(cs->props[1].str, "JSON");
        assert_string_equal(cs->props[2].name, "TIMESTAMP");
        assert_string_equal(cs->props[2].str, "timestamp");
        assert_pos(cs->props[2].pos, 5, 9);

        const struct sl_stmt *ct = &script->stmts[2];
        assert_int_equal(ct->kind, SL_ST_CREATE_TABLE_AS);
        assert_pos(ct->pos, 6, 1);
        assert_string_equal(ct->name, "moving_averages");
        assert_pos(ct->name_pos, 6, 14);
        assert_int_equal(ct->ncols, 0);
        assert_int_equal(ct->nprops, 1);
        assert_string_equal(ct->props[0].str, "aggregated-transactions-topic");
        const struct sl_select *sel = ct->select;
        assert_non_null(sel);
        assert_pos(sel->pos, 7, 3);
        assert_int_equal(sel->nitems, 4);
        assert_column(sel->items[0].expr, "userId", 7, 10);
        assert_null(sel->items[0].alias);
        assert_pos(sel->items[0].pos, 7, 10);
        const struct sl_expr *avg = sel->items[1].expr;
        assert_int_equal(avg->kind, SL_EX_CALL);
        assert_string_equal(avg->name, "AVG");
        assert_pos(avg->pos, 7, 18);
        assert_false(avg->star);
        assert_int_equal(avg->nargs, 1);
        assert_column(avg->args[0], "amount", 7, 22);
        assert_string_equal(sel->items[1].alias, "movingAverage");
        assert_int_equal(sel->items[2].expr->kind, SL_EX_WINDOWSTART);
        assert_pos(sel->items[2].expr->pos, 8, 10);
        assert_string_equal(sel->items[2].alias, "windowStart");
        assert_int_equal(sel->items[3].expr->kind, SL_EX_WINDOWEND);
        assert_string_equal(sel->items[3].alias, "windowEnd");
        assert_string_equal(sel->from, "transactions");
        assert_pos(sel->from_pos, 9, 8);
        assert_int_equal(sel->window.kind, SL_WIN_TUMBLING);
        assert_pos(sel->window.pos, 10, 3);
        assert_int_equal(sel->window.size_ms, 5 * 60 * 1000);
        assert_int_equal(sel->window.advance_ms, 0);
        assert_true(sel->window.has_grace);
        assert_int_equal(sel->window.grace_ms, 30 * 1000);
        assert_null(sel->where);
        assert_int_equal(sel->ngroup, 1);
        assert_column(sel->group[0], "userId", 11, 12);
        assert_pos(sel->group_pos, 11, 3);
        assert_null(sel->having);
        assert_int_equal(sel->emit, SL_EMIT_FINAL);
        assert_pos(sel->emit_pos, 12, 3);
        sl_script_free(script);
}

static void test_create_stream_columns_and_props(void **state)
{
        (void)state;
        struct sl_script *script = parse_ok(
                "create stream s (a string, b varchar, c bigint, d integer, e int, f double,\n"
                "  g boolean, key STRING PRIMARY KEY, size INT, `select` INT, `WINDOWSTART` BIGINT)\n"
                "with (kafka_topic='t', PARTITIONS=3, replicas = -1, min = -9223372036854775808)");
        const struct sl_stmt *st = &script->stmts[0];
        assert_int_equal(script->nstmts, 1);
        assert_int_equal(st->kind, SL_ST_CREATE_STREAM);
        static const enum sl_type types[] = {
                SL_T_STRING, SL_T_STRING, SL_T_BIGINT, SL_T_INT, SL_T_INT, SL_T_DOUBLE,
                SL_T_BOOL,   SL_T_STRING, SL_T_INT,    SL_T_INT, SL_T_BIGINT,
        };
        static const char *const names[] = { "a", "b", "c", "d", "e", "f", "g",
                                             "key", "size", "select", "WINDOWSTART" };
        assert_int_equal(st->ncols, 11);
        for (uint32_t i = 0; i < st->ncols; i++) {
                assert_string_equal(st->cols[i].name, names[i]);
                assert_int_equal(st->cols[i].type, types[i]);
                assert_int_equal(st->cols[i].key, i == 7);
        }
        assert_pos(st->cols[7].pos, 2, 14);
        assert_int_equal(st->nprops, 4);
        assert_string_equal(st->props[0].name, "kafka_topic");
        assert_string_equal(st->props[0].str, "t");
        assert_false(st->props[1].is_string);
        assert_int_equal(st->props[1].num, 3);
        assert_int_equal(st->props[2].num, -1);
        assert_pos(st->props[2].value_pos, 3, 49);
        assert_true(st->props[3].num == INT64_MIN);
        sl_script_free(script);
}

static void test_create_table_source_and_joins(void **state)
{
        (void)state;
        struct sl_script *script = parse_ok(
                "CREATE TABLE customers (id STRING PRIMARY KEY, tier STRING, region STRING)\n"
                "  WITH (KAFKA_TOPIC = 'bss.customer.info', VALUE_FORMAT = 'JSON');\n"
                "CREATE STREAM big AS SELECT o.orderId, c.tier FROM orders o\n"
                "  LEFT OUTER JOIN customers AS c ON o.customerId = c.id WHERE o.amount > 1000;\n"
                "CREATE TABLE t AS SELECT c.region, COUNT(*) FROM orders INNER JOIN customers\n"
                "  ON customerId = id WINDOW TUMBLING (SIZE 1 HOUR) GROUP BY c.region;\n"
                "CREATE STREAM p AS SELECT `left`, `on` FROM orders join customers c ON a = c.id;\n"
                "CREATE STREAM q AS SELECT a FROM orders o;");
        assert_int_equal(script->nstmts, 5);
        const struct sl_stmt *st = &script->stmts[0];
        assert_int_equal(st->kind, SL_ST_CREATE_TABLE);
        assert_int_equal(st->ncols, 3);
        assert_true(st->cols[0].key && st->cols[0].primary);
        assert_false(st->cols[1].key || st->cols[1].primary);
        assert_int_equal(st->nprops, 2);

        const struct sl_select *sel = script->stmts[1].select;
        assert_string_equal(sel->from, "orders");
        assert_string_equal(sel->from_alias, "o");
        assert_pos(sel->from_alias_pos, 3, 59);
        assert_true(sel->join.present);
        assert_true(sel->join.left);
        assert_pos(sel->join.pos, 4, 3);
        assert_string_equal(sel->join.table, "customers");
        assert_pos(sel->join.table_pos, 4, 19);
        assert_string_equal(sel->join.alias, "c");
        assert_pos(sel->join.alias_pos, 4, 32);
        assert_int_equal(sel->join.on->kind, SL_EX_BINARY);
        assert_int_equal(sel->join.on->op, SL_OP_EQ);
        assert_string_equal(sel->join.on->args[0]->qualifier, "o");
        assert_string_equal(sel->join.on->args[0]->name, "customerId");
        assert_string_equal(sel->join.on->args[1]->qualifier, "c");
        assert_non_null(sel->where);

        sel = script->stmts[2].select;
        assert_null(sel->from_alias);
        assert_true(sel->join.present);
        assert_false(sel->join.left);
        assert_null(sel->join.alias);
        assert_int_equal(sel->window.kind, SL_WIN_TUMBLING);
        assert_int_equal(sel->ngroup, 1);
        assert_string_equal(sel->group[0]->qualifier, "c");

        sel = script->stmts[3].select; /* lower-case join, backticked names */
        assert_true(sel->join.present);
        assert_string_equal(sel->items[0].expr->name, "left");
        assert_string_equal(sel->join.alias, "c");

        sel = script->stmts[4].select; /* an alias without a join */
        assert_string_equal(sel->from_alias, "o");
        assert_false(sel->join.present);
        sl_script_free(script);
}

static void test_create_stream_as(void **state)
{
        (void)state;
        struct sl_script *script = parse_ok(
                "CREATE OR REPLACE STREAM big WITH (KAFKA_TOPIC = 'big') AS\n"
                "SELECT s.id id, amount * 2 AS `double`, UCASE(name) AS n\n"
                "FROM src WHERE amount > 100 AND s.name IS NOT NULL EMIT CHANGES");
        const struct sl_stmt *st = &script->stmts[0];
        assert_int_equal(st->kind, SL_ST_CREATE_STREAM_AS);
        assert_true(st->or_replace);
        assert_string_equal(st->name, "big");
        assert_int_equal(st->nprops, 1);
        const struct sl_select *sel = st->select;
        assert_int_equal(sel->nitems, 3);
        /* s.id: the qualifier is kept apart, the name is the column. */
        assert_column(sel->items[0].expr, "id", 2, 8);
        assert_string_equal(sel->items[0].expr->qualifier, "s");
        assert_string_equal(sel->items[0].alias, "id");
        const struct sl_expr *mul = sel->items[1].expr;
        assert_int_equal(mul->kind, SL_EX_BINARY);
        assert_int_equal(mul->op, SL_OP_MUL);
        assert_pos(mul->pos, 2, 17);
        assert_null(mul->args[0]->qualifier);
        assert_int_equal(mul->args[1]->kind, SL_EX_INT);
        assert_int_equal(mul->args[1]->u.i, 2);
        assert_pos(mul->args[1]->pos, 2, 26);
        assert_string_equal(sel->items[1].alias, "double");
        assert_string_equal(sel->items[2].alias, "n");
        assert_string_equal(sel->from, "src");
        const struct sl_expr *w = sel->where;
        assert_int_equal(w->kind, SL_EX_BINARY);
        assert_int_equal(w->op, SL_OP_AND);
        assert_pos(w->pos, 3, 16);
        assert_int_equal(w->args[0]->op, SL_OP_GT);
        const struct sl_expr *isnull = w->args[1];
        assert_int_equal(isnull->kind, SL_EX_IS_NULL);
        assert_true(isnull->negated);
        assert_int_equal(isnull->nargs, 1);
        assert_pos(isnull->pos, 3, 33);
        assert_column(isnull->args[0], "name", 3, 33);
        assert_int_equal(sel->window.kind, SL_WIN_NONE);
        assert_int_equal(sel->ngroup, 0);
        assert_int_equal(sel->emit, SL_EMIT_CHANGES);
        assert_pos(sel->emit_pos, 3, 52);
        sl_script_free(script);
}

static void test_create_table_hopping(void **state)
{
        (void)state;
        struct sl_script *script = parse_ok(
                "CREATE TABLE t AS SELECT region, kind, COUNT(*) AS n, SUM(x) total FROM s\n"
                "WINDOW HOPPING (SIZE 1 HOUR, ADVANCE BY 10 MINUTES)\n"
                "WHERE x > 0 GROUP BY region, kind HAVING COUNT(*) > 5");
        const struct sl_stmt *st = &script->stmts[0];
        assert_int_equal(st->kind, SL_ST_CREATE_TABLE_AS);
        assert_int_equal(st->nprops, 0);
        const struct sl_select *sel = st->select;
        assert_int_equal(sel->nitems, 4);
        const struct sl_expr *count = sel->items[2].expr;
        assert_int_equal(count->kind, SL_EX_CALL);
        assert_string_equal(count->name, "COUNT");
        assert_true(count->star);
        assert_int_equal(count->nargs, 0);
        assert_string_equal(sel->items[3].alias, "total");
        assert_int_equal(sel->window.kind, SL_WIN_HOPPING);
        assert_int_equal(sel->window.size_ms, 3600000);
        assert_int_equal(sel->window.advance_ms, 600000);
        assert_false(sel->window.has_grace);
        assert_int_equal(sel->window.grace_ms, 0);
        assert_non_null(sel->where);
        assert_int_equal(sel->ngroup, 2);
        assert_column(sel->group[0], "region", 3, 22);
        assert_column(sel->group[1], "kind", 3, 30);
        assert_int_equal(sel->having->op, SL_OP_GT);
        assert_int_equal(sel->having->args[0]->kind, SL_EX_CALL);
        assert_int_equal(sel->emit, SL_EMIT_NONE);
        sl_script_free(script);
}

/* ksqlDB's WINDOW SESSION (gap [, GRACE PERIOD]); SESSION stays a name. */
static void test_create_table_session(void **state)
{
        (void)state;
        struct sl_script *script = parse_ok(
                "CREATE TABLE t AS SELECT c, session, COUNT(*) AS n FROM s\n"
                "WINDOW SESSION (30 MINUTES) GROUP BY c, session EMIT FINAL;\n"
                "CREATE TABLE u AS SELECT c, COUNT(*) FROM s\n"
                "WINDOW session (90 SECONDS, GRACE PERIOD 2 HOURS) WHERE x > 0 GROUP BY c;");
        const struct sl_select *sel = script->stmts[0].select;
        assert_int_equal(sel->window.kind, SL_WIN_SESSION);
        assert_pos(sel->window.pos, 2, 1);
        assert_int_equal(sel->window.size_ms, 30 * 60000);
        assert_false(sel->window.has_grace);
        assert_int_equal(sel->window.grace_ms, 0);
        assert_column(sel->items[1].expr, "session", 1, 29);
        assert_column(sel->group[1], "session", 2, 41);
        assert_int_equal(sel->emit, SL_EMIT_FINAL);
        sel = script->stmts[1].select;
        assert_int_equal(sel->window.kind, SL_WIN_SESSION);
        assert_int_equal(sel->window.size_ms, 90000);
        assert_true(sel->window.has_grace);
        assert_int_equal(sel->window.grace_ms, 2 * 3600000);
        assert_non_null(sel->where);
        sl_script_free(script);
}

static void test_time_units(void **state)
{
        (void)state;
        static const struct {
                const char *text;
                int64_t ms;
        } cases[] = {
                { "1 MILLISECOND", 1 },       { "250 milliseconds", 250 },
                { "1 SECOND", 1000 },         { "90 Seconds", 90000 },
                { "1 MINUTE", 60000 },        { "5 MINUTES", 300000 },
                { "1 HOUR", 3600000 },        { "24 HOURS", 86400000 },
                { "1 DAY", 86400000 },        { "7 DAYS", 604800000 },
                { "106751991167 DAYS", INT64_C(106751991167) * 86400000 },
                { "9223372036854775807 MILLISECONDS", INT64_MAX },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char src[256];
                snprintf(src, sizeof(src),
                         "CREATE TABLE t AS SELECT k, COUNT(*) FROM s "
                         "WINDOW TUMBLING (SIZE %s, GRACE PERIOD %s) GROUP BY k",
                         cases[i].text, cases[i].text);
                struct sl_script *script = parse_ok(src);
                const struct sl_window_def *w = &script->stmts[0].select->window;
                assert_true(w->size_ms == cases[i].ms);
                assert_true(w->grace_ms == cases[i].ms);
                sl_script_free(script);
        }
}

static void test_script_shapes(void **state)
{
        (void)state;
        struct sl_script *script = parse_ok("");
        assert_int_equal(script->nstmts, 0);
        sl_script_free(script);
        script = parse_ok("  -- nothing\n /* at all */ ;; ");
        assert_int_equal(script->nstmts, 0);
        sl_script_free(script);
        /* The last ';' is optional. */
        script = parse_ok("SET 'a' = 'b'; SET 'c' = 'it''s'");
        assert_int_equal(script->nstmts, 2);
        assert_string_equal(script->stmts[1].set_value, "it's");
        assert_pos(script->stmts[1].pos, 1, 16);
        sl_script_free(script);
        script = parse_ok("SET 'a' = 'b';");
        assert_int_equal(script->nstmts, 1);
        sl_script_free(script);
        /* A long script makes the statement array grow. */
        char src[64 * 20 + 1] = "";
        for (int i = 0; i < 64; i++)
                strcat(src, "SET 'k' = 'v';\n");
        script = parse_ok(src);
        assert_int_equal(script->nstmts, 64);
        assert_pos(script->stmts[63].pos, 64, 1);
        sl_script_free(script);
        sl_script_free(NULL);
}

static void test_precedence(void **state)
{
        (void)state;
        static const struct {
                const char *in;
                const char *out;
        } cases[] = {
                { "a + b * c", "(a + (b * c))" },
                { "(a + b) * c", "((a + b) * c)" },
                { "a - b - c", "((a - b) - c)" },
                { "a / b % c * d", "(((a / b) % c) * d)" },
                { "a + b > c - d", "((a + b) > (c - d))" },
                { "NOT a = b AND c OR d", "(((NOT (a = b)) AND c) OR d)" },
                { "a OR b AND c", "(a OR (b AND c))" },
                { "NOT NOT a", "(NOT (NOT a))" },
                { "a IS NULL OR b IS NOT NULL", "((a IS NULL) OR (b IS NOT NULL))" },
                { "a + 1 IS NULL", "((a + 1) IS NULL)" },
                { "NOT a IS NULL", "(NOT (a IS NULL))" },
                { "-a * b", "((-a) * b)" },
                { "a != b", "(a <> b)" },
                { "a <> b", "(a <> b)" },
                { "a <= b AND a >= c AND a < d", "(((a <= b) AND (a >= c)) AND (a < d))" },
                { "f(a + 1, g(b), 'x')", "f((a + 1), g(b), 'x')" },
                { "f()", "f()" },
                { "count(*)", "count(*)" },
                { "a || b || c", "((a || b) || c)" },
                { "a + b || c - d", "((a + b) || (c - d))" },
                { "a || b = c || d", "((a || b) = (c || d))" },
                { "a || b IS NULL", "((a || b) IS NULL)" },
                { "NOT a || b = c", "(NOT ((a || b) = c))" },
                { "-a || b * c", "((-a) || (b * c))" },
                { "CASE WHEN a THEN b + 1 ELSE c END * 2", "(CASE WHEN a THEN (b + 1) ELSE c END * 2)" },
                { "cast(a + 1 as varchar) || 'x'", "(CAST((a + 1) AS STRING) || 'x')" },
                { "Case a When 1 Then 'x' End", "CASE a WHEN 1 THEN 'x' END" },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                assert_string_equal(formatted(cases[i].in), cases[i].out);
}

static void test_negative_literals(void **state)
{
        (void)state;
        struct sl_script *script = parse_expr("-5");
        const struct sl_expr *e = first_item(script);
        assert_int_equal(e->kind, SL_EX_INT);
        assert_int_equal(e->u.i, -5);
        assert_pos(e->pos, 1, EXPR_COL);
        sl_script_free(script);

        script = parse_expr("-9223372036854775808");
        e = first_item(script);
        assert_int_equal(e->kind, SL_EX_INT);
        assert_true(e->u.i == INT64_MIN);
        sl_script_free(script);

        script = parse_expr("- 2.5e1");
        e = first_item(script);
        assert_int_equal(e->kind, SL_EX_DOUBLE);
        assert_true(e->u.d == -25.0);
        sl_script_free(script);

        /* '-' before a non-literal stays a NEG node. */
        script = parse_expr("-(5)");
        e = first_item(script);
        assert_int_equal(e->kind, SL_EX_UNARY);
        assert_int_equal(e->op, SL_OP_NEG);
        assert_int_equal(e->nargs, 1);
        assert_pos(e->pos, 1, EXPR_COL);
        assert_int_equal(e->args[0]->kind, SL_EX_INT);
        assert_int_equal(e->args[0]->u.i, 5);
        sl_script_free(script);

        script = parse_expr("1 - -2");
        e = first_item(script);
        assert_int_equal(e->op, SL_OP_SUB);
        assert_int_equal(e->args[1]->kind, SL_EX_INT);
        assert_int_equal(e->args[1]->u.i, -2);
        assert_pos(e->args[1]->pos, 1, EXPR_COL + 4);
        sl_script_free(script);

        assert_string_equal(formatted("- -5"), "(-(-5))");
        assert_string_equal(formatted("-2 * 3"), "(-2 * 3)");
        assert_string_equal(formatted("- - a"), "(-(-a))");
        assert_string_equal(formatted("-(-(5))"), "(-(-(5)))");
}

/* The aggregates with a literal parameter parse as calls of two arguments;
 * the planner checks the literal (test_plan.c). */
static void test_aggregate_parameters(void **state)
{
        (void)state;
        struct sl_script *script = parse_expr("TOPK(level, 3)");
        const struct sl_expr *e = first_item(script);
        assert_int_equal(e->kind, SL_EX_CALL);
        assert_string_equal(e->name, "TOPK");
        assert_int_equal(e->nargs, 2);
        assert_column(e->args[0], "level", 1, EXPR_COL + 5);
        assert_int_equal(e->args[1]->kind, SL_EX_INT);
        assert_int_equal(e->args[1]->u.i, 3);
        assert_pos(e->args[1]->pos, 1, EXPR_COL + 12);
        sl_script_free(script);

        script = parse_expr("ema(x, -0.5)");
        e = first_item(script);
        assert_int_equal(e->nargs, 2);
        assert_int_equal(e->args[1]->kind, SL_EX_DOUBLE);
        assert_true(e->args[1]->u.d == -0.5);
        sl_script_free(script);

        script = parse_expr("COUNT_DISTINCT(x)");
        e = first_item(script);
        assert_int_equal(e->kind, SL_EX_CALL);
        assert_string_equal(e->name, "COUNT_DISTINCT");
        assert_int_equal(e->nargs, 1);
        sl_script_free(script);

        assert_string_equal(formatted("TopKDistinct(a, 2)"), "TopKDistinct(a, 2)");
        assert_string_equal(formatted("LATEST_BY_OFFSET(a)"), "LATEST_BY_OFFSET(a)");
        assert_error("CREATE STREAM o AS SELECT TOPK(a, ) FROM s", 1, EXPR_COL + 8,
                     "expected expression, found ')'");
        assert_error("CREATE STREAM o AS SELECT TOPK(a 3) FROM s", 1, EXPR_COL + 7,
                     "expected ',' or ')' to close the call of TOPK at 1:31, found '3'");
}

static void test_literals(void **state)
{
        (void)state;
        struct sl_script *script = parse_expr("f(TRUE, false, NULL, 'a''b', 1.5, 9223372036854775807)");
        const struct sl_expr *e = first_item(script);
        assert_int_equal(e->nargs, 6);
        assert_int_equal(e->args[0]->kind, SL_EX_BOOL);
        assert_true(e->args[0]->u.b);
        assert_int_equal(e->args[1]->kind, SL_EX_BOOL);
        assert_false(e->args[1]->u.b);
        assert_int_equal(e->args[2]->kind, SL_EX_NULL);
        assert_int_equal(e->args[3]->kind, SL_EX_STRING);
        assert_int_equal(e->args[3]->u.s.len, 3);
        assert_string_equal(e->args[3]->u.s.p, "a'b");
        assert_pos(e->args[3]->pos, 1, EXPR_COL + 21);
        assert_int_equal(e->args[4]->kind, SL_EX_DOUBLE);
        assert_true(e->args[4]->u.d == 1.5);
        assert_true(e->args[5]->u.i == INT64_MAX);
        sl_script_free(script);
}

static void test_window_keywords_and_names(void **state)
{
        (void)state;
        struct sl_script *script =
                parse_expr("WINDOWSTART, `WINDOWSTART`, windowend, size + key AS windowEnd");
        const struct sl_select *sel = script->stmts[0].select;
        assert_int_equal(sel->items[0].expr->kind, SL_EX_WINDOWSTART);
        assert_column(sel->items[1].expr, "WINDOWSTART", 1, EXPR_COL + 13);
        assert_int_equal(sel->items[2].expr->kind, SL_EX_WINDOWEND);
        /* Non-reserved keywords are names where a name is expected. */
        assert_column(sel->items[3].expr->args[0], "size", 1, EXPR_COL + 39);
        assert_column(sel->items[3].expr->args[1], "key", 1, EXPR_COL + 46);
        assert_string_equal(sel->items[3].alias, "windowEnd");
        sl_script_free(script);
}

static void test_case_cast_concat(void **state)
{
        (void)state;
        /* searched CASE: WHEN/THEN pairs, then ELSE */
        struct sl_script *script =
                parse_expr("CASE WHEN a > 1 THEN 'x' WHEN b THEN 'y' ELSE z END AS c");
        const struct sl_expr *e = first_item(script);
        assert_int_equal(e->kind, SL_EX_CASE);
        assert_pos(e->pos, 1, EXPR_COL);
        assert_false(e->has_operand);
        assert_true(e->has_else);
        assert_int_equal(e->nargs, 5);
        assert_int_equal(e->args[0]->kind, SL_EX_BINARY);
        assert_int_equal(e->args[0]->op, SL_OP_GT);
        assert_int_equal(e->args[1]->kind, SL_EX_STRING);
        assert_pos(e->args[1]->pos, 1, EXPR_COL + 21);
        assert_column(e->args[2], "b", 1, EXPR_COL + 30);
        assert_column(e->args[4], "z", 1, EXPR_COL + 46);
        assert_string_equal(script->stmts[0].select->items[0].alias, "c");
        sl_script_free(script);

        /* simple CASE without ELSE */
        script = parse_expr("case x when 1 then 'one' when 2 then 'two' end");
        e = first_item(script);
        assert_int_equal(e->kind, SL_EX_CASE);
        assert_true(e->has_operand);
        assert_false(e->has_else);
        assert_int_equal(e->nargs, 5);
        assert_column(e->args[0], "x", 1, EXPR_COL + 5);
        assert_int_equal(e->args[3]->kind, SL_EX_INT);
        assert_int_equal(e->args[3]->u.i, 2);
        sl_script_free(script);

        /* CAST keeps the target type; VARCHAR is STRING, INT is INTEGER */
        script = parse_expr("CAST(a + 1 AS varchar), cast(b AS Int), CAST(c AS BOOLEAN)");
        const struct sl_select *sel = script->stmts[0].select;
        e = sel->items[0].expr;
        assert_int_equal(e->kind, SL_EX_CAST);
        assert_pos(e->pos, 1, EXPR_COL);
        assert_int_equal(e->cast_to, SL_T_STRING);
        assert_int_equal(e->nargs, 1);
        assert_int_equal(e->args[0]->op, SL_OP_ADD);
        assert_int_equal(sel->items[1].expr->cast_to, SL_T_INT);
        assert_int_equal(sel->items[2].expr->cast_to, SL_T_BOOL);
        sl_script_free(script);

        /* || is a binary operator, left-associative, below + and - */
        script = parse_expr("a || 'b' || c + 1");
        e = first_item(script);
        assert_int_equal(e->kind, SL_EX_BINARY);
        assert_int_equal(e->op, SL_OP_CONCAT);
        assert_int_equal(e->args[0]->op, SL_OP_CONCAT);
        assert_int_equal(e->args[1]->op, SL_OP_ADD);
        assert_pos(e->pos, 1, EXPR_COL);
        sl_script_free(script);

        /* string literals anywhere an expression goes */
        script = parse_ok("CREATE TABLE t AS SELECT 'k' AS k, COUNT(*) FROM s WHERE 'a' < b\n"
                          "  GROUP BY k HAVING MAX(x) || 'y' <> '' EMIT CHANGES");
        sel = script->stmts[0].select;
        assert_int_equal(sel->items[0].expr->kind, SL_EX_STRING);
        assert_int_equal(sel->where->args[0]->kind, SL_EX_STRING);
        assert_int_equal(sel->having->args[0]->op, SL_OP_CONCAT);
        assert_int_equal(sel->having->args[1]->u.s.len, 0);
        sl_script_free(script);
}

static void test_format(void **state)
{
        (void)state;
        static const struct {
                const char *in;
                const char *out;
        } cases[] = {
                { "'it''s'", "'it''s'" },
                { "''", "''" },
                { "0.1", "0.1" },
                { "1e3", "1000.0" },
                { "1e300", "1e+300" },
                { "-2.5", "-2.5" },
                { "0.30000000000000004", "0.30000000000000004" },
                { "-9223372036854775808", "-9223372036854775808" },
                { "`select` + `a``b`", "(`select` + `a``b`)" },
                { "`with space`", "`with space`" },
                { "size", "`size`" },
                { "s.x", "s.x" },
                { "`my src`.`x`", "`my src`.x" },
                { "WINDOWSTART", "WINDOWSTART" },
                { "`WINDOWSTART`", "`WINDOWSTART`" },
                { "TRUE AND NOT FALSE", "(TRUE AND (NOT FALSE))" },
                { "x IS NOT NULL", "(x IS NOT NULL)" },
                { "-(a)", "(-a)" },
                { "CAST(a AS INT)", "CAST(a AS INTEGER)" },
                { "CAST(a AS VARCHAR)", "CAST(a AS STRING)" },
                { "`end` || `WHEN`", "(`end` || `WHEN`)" },
                { "CASE WHEN a THEN 1 END", "CASE WHEN a THEN 1 END" },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                assert_string_equal(formatted(cases[i].in), cases[i].out);
}

static void test_format_truncates(void **state)
{
        (void)state;
        struct sl_script *script = parse_expr("abc + 1");
        const struct sl_expr *e = first_item(script);
        char buf[8];
        memset(buf, 'x', sizeof(buf));
        assert_int_equal(sl_expr_format(e, buf, sizeof(buf)), strlen("(abc + 1)"));
        assert_string_equal(buf, "(abc + ");
        assert_int_equal(sl_expr_format(e, buf, 1), 9);
        assert_string_equal(buf, "");
        buf[0] = 'x';
        assert_int_equal(sl_expr_format(e, buf, 0), 9);
        assert_int_equal(buf[0], 'x');
        sl_script_free(script);
}

/* Structural equality, positions aside. */
static bool same_tree(const struct sl_expr *a, const struct sl_expr *b)
{
        if (a->kind != b->kind || a->op != b->op || a->nargs != b->nargs ||
            a->negated != b->negated || a->star != b->star ||
            a->has_operand != b->has_operand || a->has_else != b->has_else ||
            (a->kind == SL_EX_CAST && a->cast_to != b->cast_to))
                return false;
        if ((a->name == NULL) != (b->name == NULL) || (a->name && strcmp(a->name, b->name)))
                return false;
        if ((a->qualifier == NULL) != (b->qualifier == NULL) ||
            (a->qualifier && strcmp(a->qualifier, b->qualifier)))
                return false;
        switch (a->kind) {
        case SL_EX_INT:
                if (a->u.i != b->u.i)
                        return false;
                break;
        case SL_EX_DOUBLE:
                if (a->u.d != b->u.d)
                        return false;
                break;
        case SL_EX_BOOL:
                if (a->u.b != b->u.b)
                        return false;
                break;
        case SL_EX_STRING:
                if (a->u.s.len != b->u.s.len || memcmp(a->u.s.p, b->u.s.p, a->u.s.len))
                        return false;
                break;
        default:
                break;
        }
        for (uint32_t i = 0; i < a->nargs; i++) {
                if (!same_tree(a->args[i], b->args[i]))
                        return false;
        }
        return true;
}

static void test_format_round_trips(void **state)
{
        (void)state;
        static const char *const cases[] = {
                "a + b * c - d / e % f",
                "NOT (a OR b) AND c = 'x''y'",
                "-(5) + -5 - - -a",
                "-(-(1.5))",
                "f(g(h(1, 2)), COUNT(*), `key`.`a``b`)",
                "x IS NOT NULL AND y IS NULL",
                "WINDOWEND - WINDOWSTART >= 1000 OR `WINDOWEND` < 0.125",
                "1e-300 * 123456789.123456789 + 5e-324",
                "-9223372036854775808 <> 9223372036854775807",
                "TRUE = (NOT FALSE)",
                "CASE WHEN a > 1 THEN 'x' WHEN b IS NULL THEN c || 'y' ELSE NULL END",
                "CASE a + 1 WHEN 2 THEN CASE WHEN b THEN 1 END WHEN 3 THEN 4 ELSE 5 END",
                "CASE WHEN x THEN y END",
                "CAST(CAST(a AS INT) AS DOUBLE) + CAST('1' AS BIGINT)",
                "CAST(b AS BOOLEAN) = CAST(s AS VARCHAR)",
                "'a' || b || CONCAT(c, 'd') || FORMAT('%s', e)",
                "ROUND(AVG(x), 2) > LEAST(1, GREATEST(2, 3))",
                "`end` + `case`",
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char text[1024];
                struct sl_script *a = parse_expr(cases[i]);
                sl_expr_format(first_item(a), text, sizeof(text));
                struct sl_script *b = parse_expr(text);
                if (!same_tree(first_item(a), first_item(b)))
                        fail_msg("%s -> %s reads back differently", cases[i], text);
                char again[1024];
                sl_expr_format(first_item(b), again, sizeof(again));
                assert_string_equal(text, again);
                sl_script_free(a);
                sl_script_free(b);
        }
}

/* append(): copies s to *p and advances it. */
static void append(char **p, const char *s)
{
        size_t n = strlen(s);
        memcpy(*p, s, n);
        *p += n;
}

/* prefix, n copies of unit, mid, n2 copies of unit2, suffix: on the heap. */
static char *repeat(const char *prefix, const char *unit, size_t n, const char *mid,
                    const char *unit2, size_t n2, const char *suffix)
{
        size_t len = strlen(prefix) + strlen(unit) * n + strlen(mid) + strlen(unit2) * n2 +
                     strlen(suffix) + 1;
        char *s = malloc(len);
        if (!s)
                fail_msg("out of memory");
        char *p = s;
        append(&p, prefix);
        for (size_t i = 0; i < n; i++)
                append(&p, unit);
        append(&p, mid);
        for (size_t i = 0; i < n2; i++)
                append(&p, unit2);
        append(&p, suffix);
        *p = '\0';
        return s;
}

static void test_depth_limits(void **state)
{
        (void)state;
        const char *pre = "CREATE STREAM o AS SELECT ";
        char *s;
        struct sl_script *script;

        /* 256 levels of parentheses are fine, 257 are not. */
        s = repeat(pre, "(", 256, "a", ")", 256, " FROM s");
        script = parse_ok(s);
        assert_column(first_item(script), "a", 1, EXPR_COL + 256);
        sl_script_free(script);
        free(s);
        s = repeat(pre, "(", 257, "a", ")", 257, " FROM s");
        assert_error(s, 1, EXPR_COL + 256, "expression nested too deeply");
        free(s);

        /* Deep trees built without recursion (a long chain) are capped too. */
        s = repeat(pre, "1 + ", 255, "1", "", 0, " FROM s");
        script = parse_ok(s);
        sl_script_free(script);
        free(s);
        s = repeat(pre, "1 + ", 256, "1", "", 0, " FROM s");
        assert_error(s, 1, EXPR_COL + 255 * 4 + 2, "expression nested too deeply");
        free(s);

        /* Hostile input: a million of anything fails cleanly. */
        static const char *const units[] = { "(", "- ", "NOT ", "f(", "a OR ", "- (",
                                             "CAST(", "CASE WHEN ", "CASE ", "a || " };
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                struct sl_sql_error err;
                s = repeat(pre, units[i], 1000000, "a", "", 0, "");
                assert_null(sl_sql_parse(s, strlen(s), &err));
                assert_string_equal(err.msg, "expression nested too deeply");
                assert_int_equal(err.pos.line, 1);
                free(s);
        }
}

struct error_case {
        const char *src;
        uint32_t line, col;
        const char *msg;
};

static const struct error_case error_cases[] = {
        { "CREATE STREAM s (a STRNG);", 1, 20,
          "unknown type 'STRNG' (expected STRING, BIGINT, INTEGER, DOUBLE or BOOLEAN)" },
        { "CREATE STREAM s (a `STRING`);", 1, 20,
          "expected type after column name 'a', found '`STRING`'" },
        { "CREATE STREAM s (a INT b INT);", 1, 24,
          "expected ',' or ')' after column definition, found 'b'" },
        { "CREATE STREAM s (a INT,\n  b INT", 2, 8,
          "expected ',' or ')' after column definition, found end of input" },
        { "CREATE STREAM s ();", 1, 18, "expected column name, found ')'" },
        { "CREATE STREAM s (from STRING);", 1, 18,
          "expected column name, found keyword 'from' (write it in backticks to use it as a name)" },
        { "CREATE STREAM s (k STRING PRIMARY);", 1, 34, "expected KEY after PRIMARY, found ')'" },
        { "CREATE TABLE t AS SELECT k, COUNT(*) FROM s\n  WINDOW TUMBLING (SIZE 5 MINUTS) GROUP BY k;",
          2, 27,
          "unknown time unit 'MINUTS' (expected MILLISECONDS, SECONDS, MINUTES, HOURS or DAYS)" },
        { "SET 'a' = 'b", 1, 11, "unterminated string literal" },
        { "CREATE TABLE t AS SELECT COUNT(*) FROM s GROUP BY a EMIT LATER;", 1, 58,
          "expected EMIT CHANGES or EMIT FINAL, found 'LATER'" },
        { "CREATE TABLE t AS SELECT COUNT(*) FROM s GROUP BY a EMIT", 1, 57,
          "expected EMIT CHANGES or EMIT FINAL, found end of input" },
        { "SET 'a' = 'b'\nCREATE STREAM s (a INT);", 2, 1, "missing ';' between statements" },
        { "CREATE STREAM o AS SELECT a FROM s\nSET 'a' = 'b'", 2, 1, "missing ';' between statements" },
        { "CREATE TABLE t AS SELECT a FROM s WHERE a > 1\n WINDOW TUMBLING (SIZE 1 SECOND) GROUP BY a",
          2, 2, "WINDOW must come before WHERE" },
        { "CREATE TABLE t AS SELECT a FROM s GROUP BY a WHERE a > 1", 1, 46,
          "WHERE must come before GROUP BY" },
        { "CREATE TABLE t AS SELECT a FROM s GROUP BY a EMIT CHANGES HAVING a > 1", 1, 59,
          "HAVING must come before EMIT" },
        { "CREATE STREAM o AS SELECT a FROM s WHERE a WHERE b", 1, 44, "duplicate WHERE clause" },
        { "CREATE STREAM o AS SELECT 9223372036854775808 FROM s", 1, 27,
          "integer literal out of range" },
        { "CREATE TABLE t AS SELECT a FROM s WINDOW TUMBLING (SIZE 0 SECONDS) GROUP BY a", 1, 57,
          "window SIZE must be greater than 0" },
        { "CREATE TABLE t AS SELECT a FROM s WINDOW TUMBLING (SIZE 106751991167 DAYS, "
          "GRACE PERIOD 106751991168 DAYS) GROUP BY a",
          1, 89, "duration out of range" },
        { "CREATE TABLE t AS SELECT a FROM s WINDOW HOPPING (SIZE 1 MINUTE, ADVANCE BY 2 MINUTES)", 1,
          77, "ADVANCE BY must not be greater than SIZE" },
        { "CREATE TABLE t AS SELECT a FROM s WINDOW HOPPING (SIZE 1 MINUTE, ADVANCE BY 0 MINUTES)", 1,
          77, "ADVANCE BY must be greater than 0" },
        { "CREATE TABLE t AS SELECT a FROM s WINDOW HOPPING (SIZE 1 MINUTE)", 1, 64,
          "expected ',' and ADVANCE BY after SIZE of a HOPPING window, found ')'" },
        { "CREATE TABLE t AS SELECT a FROM s WINDOW TUMBLING (SIZE 1 MINUTE, ADVANCE BY 1 SECOND)",
          1, 67, "ADVANCE BY is only allowed in a HOPPING window" },
        { "CREATE TABLE t AS SELECT a FROM s WINDOW SLIDING (SIZE 1 MINUTE)", 1,
          42, "expected TUMBLING, HOPPING or SESSION after WINDOW, found 'SLIDING'" },
        { "CREATE TABLE t AS SELECT a FROM s WINDOW SESSION (0 MINUTES) GROUP BY a", 1,
          51, "a SESSION window's gap must be greater than 0" },
        { "CREATE TABLE t AS SELECT a FROM s WINDOW SESSION (SIZE 30 MINUTES) GROUP BY a", 1,
          51, "a SESSION window takes its inactivity gap without SIZE: WINDOW SESSION (30 MINUTES)" },
        { "CREATE TABLE t AS SELECT a FROM s WINDOW SESSION (30 MINUTES, ADVANCE BY 1 MINUTE) GROUP BY a", 1,
          63, "ADVANCE BY is only allowed in a HOPPING window" },
        { "CREATE TABLE t AS SELECT a FROM s WINDOW SESSION (ADVANCE BY 1 MINUTE) GROUP BY a", 1,
          51, "ADVANCE BY is only allowed in a HOPPING window" },
        { "CREATE TABLE t AS SELECT a FROM s WINDOW SESSION 30 MINUTES GROUP BY a", 1,
          50, "expected '(' after SESSION, found '30'" },
        { "CREATE TABLE t AS SELECT a FROM s WINDOW SESSION (30) GROUP BY a", 1,
          53, "expected time unit (MILLISECONDS, SECONDS, MINUTES, HOURS or DAYS) after SESSION 30, found ')'" },
        { "CREATE TABLE t AS SELECT a FROM s WINDOW SESSION (MINUTES) GROUP BY a", 1,
          51, "expected integer duration after SESSION, found 'MINUTES'" },
        { "CREATE TABLE t AS SELECT a FROM s WINDOW SESSION (30 MINUTES GRACE PERIOD 1 MINUTE) GROUP BY a", 1,
          62, "expected ',' or ')' to close the SESSION window, found 'GRACE'" },
        { "CREATE TABLE t AS SELECT a FROM s WINDOW SESSION (30 MINUTES, GRACE PERIOD 1 MINUTE, 2) GROUP BY a", 1,
          84, "expected ')' to close the SESSION window, found ','" },
        { "CREATE TABLE t AS SELECT a FROM s WINDOW SESSION (30 MINUTES, PERIOD 1 MINUTE) GROUP BY a", 1,
          63, "expected GRACE PERIOD, found 'PERIOD'" },
        { "CREATE TABLE t AS SELECT a FROM s WINDOW TUMBLING (SIZE 1.5 MINUTES)", 1, 57,
          "expected integer duration after SIZE, found '1.5'" },
        { "CREATE TABLE t AS SELECT a FROM s WINDOW TUMBLING (SIZE 1 MINUTE GRACE PERIOD 1 SECOND)",
          1, 66, "expected ',' or ')' to close the TUMBLING window, found 'GRACE'" },
        { "CREATE TABLE t AS SELECT a FROM s WINDOW TUMBLING (SIZE 1 MINUTE, GRACE 1 SECOND)", 1,
          73, "expected PERIOD after GRACE, found '1'" },
        { "CREATE STREAM o AS SELECT a FROM s WHERE a < b < c", 1, 48,
          "comparisons do not chain: found '<' after a comparison (use AND or parentheses)" },
        { "CREATE STREAM o AS SELECT a FROM s WHERE a = b IS NULL", 1, 48,
          "comparisons do not chain: found 'IS' after a comparison (use AND or parentheses)" },
        { "CREATE STREAM o AS SELECT a FROM s WHERE a IS 5", 1, 47,
          "expected NULL or NOT NULL after IS, found '5'" },
        { "CREATE STREAM o AS SELECT a FROM s WHERE a IS NOT TRUE", 1, 51,
          "expected NULL after IS NOT, found 'TRUE'" },
        { "CREATE STREAM o AS SELECT * FROM s", 1, 27, "SELECT * is not supported: list the columns" },
        { "SELECT a FROM s;", 1, 1,
          "a bare SELECT is not supported: use CREATE STREAM or CREATE TABLE ... AS SELECT" },
        { "DROP STREAM s;", 1, 1, "expected CREATE or SET at start of statement, found 'DROP'" },
        { "CREATE VIEW v AS SELECT a FROM s", 1, 8,
          "expected STREAM or TABLE after CREATE, found 'VIEW'" },
        { "CREATE OR TABLE t AS SELECT a FROM s", 1, 11,
          "expected REPLACE after CREATE OR, found 'TABLE'" },
        { "CREATE TABLE t (a INT PRIMARY) WITH (KAFKA_TOPIC = 't');", 1, 30,
          "expected KEY after PRIMARY, found ')'" },
        { "CREATE STREAM s;", 1, 16,
          "expected '(' column list, WITH or AS SELECT after stream name, found ';'" },
        { "CREATE STREAM s WITH (KAFKA_TOPIC = 't');", 1, 41,
          "expected AS SELECT after WITH (...), found ';'" },
        { "CREATE TABLE t AS a FROM s", 1, 19, "expected SELECT after AS, found 'a'" },
        { "CREATE TABLE t AS SELECT a FROM s GROUP a", 1, 41, "expected BY after GROUP, found 'a'" },
        { "CREATE STREAM o AS SELECT a FROM s WINDOW TUMBLING (SIZE 1 SECOND)", 1, 36,
          "WINDOW is only allowed in CREATE TABLE ... AS SELECT (a stream does not aggregate)" },
        { "CREATE STREAM o AS SELECT a FROM s GROUP BY a", 1, 36,
          "GROUP BY is only allowed in CREATE TABLE ... AS SELECT (a stream does not aggregate)" },
        { "CREATE STREAM o AS SELECT a FROM s EMIT FINAL", 1, 41,
          "EMIT FINAL is only allowed in CREATE TABLE ... AS SELECT" },
        { "CREATE STREAM s (a INT) WITH (PARTITIONS = 1.5);", 1, 44,
          "expected string or integer value for property 'PARTITIONS', found '1.5'" },
        { "CREATE STREAM s (a INT) WITH (PARTITIONS = 9223372036854775808);", 1, 44,
          "integer literal out of range" },
        { "CREATE STREAM s (a INT) WITH (KAFKA_TOPIC 't');", 1, 43,
          "expected '=' after property name, found string 't'" },
        { "CREATE STREAM s (a INT) WITH KAFKA_TOPIC = 't';", 1, 30,
          "expected '(' after WITH, found 'KAFKA_TOPIC'" },
        { "SET 'a' = 5;", 1, 11, "expected quoted value after '=', found '5'" },
        { "SET a = 'b';", 1, 5, "expected quoted property name after SET, found 'a'" },
        { "SET 'a' 'b';", 1, 9, "expected '=' after SET property name, found string 'b'" },
        { "CREATE STREAM o AS SELECT (a + 1 FROM s", 1, 34,
          "expected ')' to match '(' at 1:27, found 'FROM'" },
        { "CREATE STREAM o AS SELECT COUNT(a FROM s", 1, 35,
          "expected ',' or ')' to close the call of COUNT at 1:32, found 'FROM'" },
        { "CREATE STREAM o AS SELECT COUNT(* FROM s", 1, 35,
          "expected ')' to close the call of COUNT at 1:32, found 'FROM'" },
        { "CREATE STREAM o AS SELECT FROM s", 1, 27, "expected expression, found 'FROM'" },
        { "CREATE STREAM o AS SELECT a, FROM s", 1, 30, "expected expression, found 'FROM'" },
        { "CREATE STREAM o AS SELECT a b c FROM s", 1, 31,
          "expected ',' or FROM after select item, found 'c'" },
        { "CREATE STREAM o AS SELECT a AS FROM s", 1, 32,
          "expected alias after AS, found keyword 'FROM' (write it in backticks to use it as a name)" },
        { "CREATE STREAM o AS SELECT s. FROM s", 1, 30,
          "expected column name after '.', found keyword 'FROM' (write it in backticks to use it as a name)" },
        { "CREATE STREAM o AS SELECT a FROM s JOIN t", 1, 42,
          "expected ON after the joined table, found end of input" },
        { "CREATE TABLE o AS SELECT a FROM s t u", 1, 37,
          "expected WINDOW, WHERE, GROUP BY, HAVING, EMIT, ';' or end of input, found 'u'" },
        { "CREATE STREAM o AS SELECT a FROM s x JOIN t y z ON x.a = y.b", 1, 47,
          "expected ON after the joined table, found 'z'" },
        { "CREATE STREAM o AS SELECT a FROM s LEFT t ON a = b", 1, 41,
          "expected JOIN, found 't'" },
        { "CREATE STREAM o AS SELECT a FROM s LEFT OUTER OUTER JOIN t ON a = b", 1, 47,
          "expected JOIN, found 'OUTER'" },
        { "CREATE STREAM o AS SELECT a FROM s INNER LEFT JOIN t ON a = b", 1, 42,
          "expected JOIN, found 'LEFT'" },
        { "CREATE STREAM o AS SELECT a FROM s RIGHT JOIN t ON a = b", 1, 36,
          "RIGHT JOIN is not supported: a stream joins a table with [INNER] JOIN or LEFT [OUTER] JOIN" },
        { "CREATE STREAM o AS SELECT a FROM s o FULL OUTER JOIN t ON a = b", 1, 38,
          "FULL JOIN is not supported: a stream joins a table with [INNER] JOIN or LEFT [OUTER] JOIN" },
        { "CREATE STREAM o AS SELECT a FROM s JOIN ON a = b", 1, 41,
          "expected table name after JOIN, found 'ON'" },
        { "CREATE STREAM o AS SELECT a FROM s JOIN t ON", 1, 45,
          "expected expression, found end of input" },
        { "CREATE STREAM o AS SELECT a FROM s JOIN t ON a = b\n  JOIN u ON a = c", 2, 3,
          "only one JOIN per query is supported" },
        { "CREATE STREAM o AS SELECT a FROM s JOIN t ON a = b WINDOW TUMBLING (SIZE 1 SECOND)", 1, 52,
          "WINDOW is only allowed in CREATE TABLE ... AS SELECT (a stream does not aggregate)" },
        { "CREATE STREAM o AS SELECT a FROM s AS WHERE a = 1", 1, 39,
          "expected alias after AS, found keyword 'WHERE' (write it in backticks to use it as a name)" },
        { "CREATE TABLE o AS SELECT a FROM s GROUP BY a LIMIT 5", 1, 46,
          "expected HAVING, EMIT, ';' or end of input, found 'LIMIT'" },
        { "CREATE TABLE o AS SELECT a FROM s EMIT CHANGES x", 1, 48,
          "expected ';' or end of input, found 'x'" },
        { "CREATE STREAM o AS SELECT a FROM", 1, 33, "expected source name after FROM, found end of input" },
        { "CREATE STREAM s (a INT) x", 1, 25, "expected ';' or end of input after statement, found 'x'" },
        { "CREATE STREAM o AS SELECT a FROM s WHERE a = 1 'this literal is far too long to quote'",
          1, 48, "expected EMIT, ';' or end of input, found string 'this literal is far too long..." },
        { "CREATE STREAM o AS SELECT a FROM s WHERE AND", 1, 42, "expected expression, found 'AND'" },
        { "CREATE STREAM o AS SELECT a FROM s WHERE a = NOT b", 1, 46,
          "expected expression, found 'NOT'" },
        { "-- comment\n/* open\n  comment", 2, 1, "unterminated block comment" },
        { "CREATE STREAM o AS\n  SELECT a #b FROM s", 2, 12, "unexpected character '#'" },
        { "CREATE STREAM `` AS", 1, 15, "empty quoted identifier" },
        { "CREATE STREAM o AS SELECT CASE a FROM s", 1, 34,
          "expected WHEN after the CASE operand, found 'FROM'" },
        { "CREATE STREAM o AS SELECT CASE WHEN a 'x' END FROM s", 1, 39,
          "expected THEN after the WHEN condition, found string 'x'" },
        { "CREATE STREAM o AS SELECT CASE WHEN a THEN 1 FROM s", 1, 46,
          "expected WHEN, ELSE or END in the CASE at 1:27, found 'FROM'" },
        { "CREATE STREAM o AS SELECT\n  CASE WHEN a THEN 1 ELSE 2 WHEN b THEN 3 END FROM s", 2, 29,
          "expected END to close the CASE at 2:3, found 'WHEN'" },
        { "CREATE STREAM o AS SELECT CASE END FROM s", 1, 32, "expected expression, found 'END'" },
        { "CREATE STREAM o AS SELECT CASE WHEN THEN 1 END FROM s", 1, 37,
          "expected expression, found 'THEN'" },
        { "CREATE STREAM o AS SELECT CASE WHEN a THEN END FROM s", 1, 44,
          "expected expression, found 'END'" },
        { "CREATE STREAM o AS SELECT CAST a AS INT FROM s", 1, 32, "expected '(' after CAST, found 'a'" },
        { "CREATE STREAM o AS SELECT CAST(a INT) FROM s", 1, 34,
          "expected AS and a type in CAST, found 'INT'" },
        { "CREATE STREAM o AS SELECT CAST(a AS DECIMAL) FROM s", 1, 37,
          "expected a type after AS in CAST (STRING, VARCHAR, BIGINT, INTEGER, INT, DOUBLE or BOOLEAN), found 'DECIMAL'" },
        { "CREATE STREAM o AS SELECT CAST(a AS `INT`) FROM s", 1, 37,
          "expected a type after AS in CAST (STRING, VARCHAR, BIGINT, INTEGER, INT, DOUBLE or BOOLEAN), found '`INT`'" },
        { "CREATE STREAM o AS SELECT CAST(a AS INT FROM s", 1, 41,
          "expected ')' to close the CAST at 1:27, found 'FROM'" },
        { "CREATE STREAM o AS SELECT CAST(a, b) FROM s", 1, 33,
          "expected AS and a type in CAST, found ','" },
        { "CREATE STREAM o AS SELECT a | b FROM s", 1, 29, "unexpected character '|' (did you mean '||'?)" },
        { "CREATE STREAM o AS SELECT a || FROM s", 1, 32, "expected expression, found 'FROM'" },
        { "CREATE STREAM o AS SELECT a end FROM s", 1, 29,
          "expected ',' or FROM after select item, found 'end'" },
        { "CREATE STREAM s (case INT);", 1, 18,
          "expected column name, found keyword 'case' (write it in backticks to use it as a name)" },
        { "CREATE STREAM o AS SELECT a AS when FROM s", 1, 32,
          "expected alias after AS, found keyword 'when' (write it in backticks to use it as a name)" },
};

static void test_errors(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++)
                assert_error(error_cases[i].src, error_cases[i].line, error_cases[i].col,
                             error_cases[i].msg);
}

/* Deterministic xorshift, so that a failure reproduces. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return rng_state;
}

/* Whatever parses must format; run under ASan to make this mean something. */
static void exercise(const char *src, size_t len)
{
        struct sl_sql_error err;
        memset(&err, 0x55, sizeof(err));
        struct sl_script *script = sl_sql_parse(src, len, &err);
        if (!script) {
                assert_true(err.pos.line >= 1 && err.pos.col >= 1);
                assert_true(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
                assert_true(strlen(err.msg) > 0);
                return;
        }
        char buf[256];
        for (uint32_t i = 0; i < script->nstmts; i++) {
                const struct sl_select *sel = script->stmts[i].select;
                if (!sel)
                        continue;
                for (uint32_t j = 0; j < sel->nitems; j++)
                        sl_expr_format(sel->items[j].expr, buf, sizeof(buf));
                if (sel->where)
                        sl_expr_format(sel->where, buf, sizeof(buf));
                if (sel->having)
                        sl_expr_format(sel->having, buf, sizeof(buf));
        }
        sl_script_free(script);
}

static void test_every_prefix(void **state)
{
        (void)state;
        size_t n = strlen(design_example);
        /* Exactly sized heap copies, so that ASan catches a read past len. */
        for (size_t len = 0; len <= n; len++) {
                char *copy = malloc(len ? len : 1);
                memcpy(copy, design_example, len);
                exercise(copy, len);
                free(copy);
        }
}

static void test_random_mutations(void **state)
{
        (void)state;
        static const char *const pieces[] = {
                "CREATE ", "STREAM ", "TABLE ", "SELECT ", "FROM ", "WHERE ", "GROUP BY ",
                "HAVING ", "EMIT ", "CHANGES ", "FINAL ", "WINDOW ", "TUMBLING ", "HOPPING ",
                "SESSION (", "SESSION ",
                "SIZE ", "GRACE PERIOD ", "ADVANCE BY ", "AS ", "WITH ", "SET ", "(", ")", ",",
                ";", ".", "*", "-", "+", "<", "<>", "=", "a ", "`b` ", "'s' ", "'x''y' ", "5 ",
                "1.5 ", "9223372036854775808 ", "MINUTES ", "NOT ", "IS ", "NULL ", "AND ",
                "OR ", "COUNT(*) ", "KEY ", "STRING ", "INT ", "--c\n", "/*c*/", "\n",
                "CASE ", "WHEN ", "THEN ", "ELSE ", "END ", "CAST(", "AS DOUBLE) ", "||", "|",
                "ROUND(", "FORMAT('%d', ",
        };
        size_t npieces = sizeof(pieces) / sizeof(pieces[0]);
        size_t base = strlen(design_example);
        for (int iter = 0; iter < 20000; iter++) {
                char src[1024];
                size_t len = 0;
                if (iter % 2) {
                        /* Token soup. */
                        size_t count = rng() % 40;
                        for (size_t i = 0; i < count; i++) {
                                const char *pc = pieces[rng() % npieces];
                                size_t pl = strlen(pc);
                                memcpy(src + len, pc, pl);
                                len += pl;
                        }
                } else {
                        /* The example with a few bytes changed, deleted or inserted. */
                        memcpy(src, design_example, base);
                        len = base;
                        int edits = 1 + (int)(rng() % 4);
                        for (int e = 0; e < edits && len > 0; e++) {
                                size_t at = rng() % len;
                                switch (rng() % 3) {
                                case 0:
                                        src[at] = (char)(rng() % 256);
                                        break;
                                case 1:
                                        memmove(src + at, src + at + 1, len - at - 1);
                                        len--;
                                        break;
                                default:
                                        memmove(src + at + 1, src + at, len - at);
                                        src[at] = "();,'`-*/ \n"[rng() % 11];
                                        len++;
                                        break;
                                }
                        }
                }
                char *copy = malloc(len ? len : 1);
                memcpy(copy, src, len);
                exercise(copy, len);
                free(copy);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_design_example),
                cmocka_unit_test(test_create_stream_columns_and_props),
                cmocka_unit_test(test_create_stream_as),
                cmocka_unit_test(test_create_table_hopping),
                cmocka_unit_test(test_create_table_session),
                cmocka_unit_test(test_time_units),
                cmocka_unit_test(test_script_shapes),
                cmocka_unit_test(test_precedence),
                cmocka_unit_test(test_negative_literals),
                cmocka_unit_test(test_aggregate_parameters),
                cmocka_unit_test(test_literals),
                cmocka_unit_test(test_window_keywords_and_names),
                cmocka_unit_test(test_case_cast_concat),
                cmocka_unit_test(test_format),
                cmocka_unit_test(test_format_truncates),
                cmocka_unit_test(test_format_round_trips),
                cmocka_unit_test(test_depth_limits),
                cmocka_unit_test(test_create_table_source_and_joins),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_every_prefix),
                cmocka_unit_test(test_random_mutations),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
