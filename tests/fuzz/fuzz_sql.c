/*
 * fuzz_sql.c - fuzz target of the pipeline-script front end: the lexer
 * (engine/sql/lexer.c), the parser (engine/sql/parser.c), the expression
 * printer (engine/sql/format.c) and the planner (engine/plan.c).
 *
 * Input: a whole script.  Steps, each only when the one before succeeded:
 *
 *   1. the lexer alone, token by token to the end or the first error,
 *      describing every token (the text error messages quote);
 *   2. sl_sql_parse; an error must carry a position and a one-line message;
 *   3. every expression of the tree is printed with sl_expr_format into a
 *      large and a tiny buffer (snprintf semantics: same length, the tiny
 *      text a prefix), and the printed text must parse back to a tree that
 *      prints the same (format.c promises it reads back as the same tree);
 *   4. sl_plan_build, then the script is freed before the plan is used, so
 *      a plan that kept a pointer into the AST is a use after free;
 *   5. sl_plan_explain, the FlatBuffers schema text, the lookups, and for
 *      each source a Kafka-mode partition that runs a series of edge-value
 *      records (JSON or FlatBuffers, as the source says) and is flushed,
 *      which runs every compiled expression and aggregate of the plan.
 *
 * Everything is freed on every path: LeakSanitizer reports a leak on an
 * error path as a crash.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "engine/arena.h"
#include "engine/buf.h"
#include "engine/flatbuf.h"
#include "engine/plan.h"
#include "engine/sql/ast.h"
#include "engine/sql/lexer.h"
#include "tests/fuzz/fuzz_part.h"
#include "tests/fuzz/fuzz_target.h"

/* Bigger scripts only make each run slower; no path needs them. */
#define MAX_SCRIPT (64 * 1024)
#define MAX_RUN_SOURCES 4
#define RECORDS 12

/* ast.h and plan.h promise an error message of one line, even when it
 * quotes a name or string that holds line breaks. */
static void check_msg(const char *msg, size_t cap)
{
        size_t n = strnlen(msg, cap);
        FUZZ_CHECK(n > 0 && n < cap);
        FUZZ_CHECK(memchr(msg, '\n', n) == NULL && memchr(msg, '\r', n) == NULL);
}

static void lex_all(const char *src, size_t len)
{
        struct sl_arena *a = sl_arena_new(4096);
        FUZZ_CHECK(a != NULL);
        struct sl_lexer lx;
        struct sl_token tok;
        struct sl_sql_error err;
        char d[64];
        sl_lexer_init(&lx, src, len, a);
        for (;;) {
                int rc = sl_lexer_next(&lx, &tok, &err);
                if (rc) {
                        FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM);
                        if (rc == -EINVAL) {
                                check_msg(err.msg, sizeof err.msg);
                                FUZZ_CHECK(err.pos.line >= 1 && err.pos.col >= 1);
                        }
                        break;
                }
                sl_token_describe(&tok, d, sizeof d);
                FUZZ_CHECK(strnlen(d, sizeof d) < sizeof d);
                sl_token_describe(&tok, d, 4);
                if (tok.kind == SL_TOK_EOF)
                        break;
                FUZZ_CHECK(tok.text >= src && tok.len <= len - (size_t)(tok.text - src));
                FUZZ_CHECK(tok.pos.line >= 1 && tok.pos.col >= 1);
                if (tok.kind == SL_TOK_IDENT || tok.kind == SL_TOK_STRING)
                        FUZZ_CHECK(tok.str && strlen(tok.str) <= tok.slen);
        }
        sl_arena_destroy(a);
}

/* format(e) must read back as a tree that formats the same. */
static void check_reparse(const char *text, size_t n)
{
        static const char head[] = "CREATE STREAM o AS SELECT ";
        static const char tail[] = " FROM s;";
        struct sl_buf b = {0};
        sl_buf_add(&b, head, sizeof head - 1);
        sl_buf_add(&b, text, n);
        sl_buf_add(&b, tail, sizeof tail - 1);
        FUZZ_CHECK(sl_buf_ok(&b));
        struct sl_sql_error err;
        struct sl_script *s = sl_sql_parse(b.p, b.len, &err);
        if (!s) {
                /* Parentheses added around every operator can push a tree
                 * that was just under the height limit over it. */
                if (!strstr(err.msg, "nested too deeply")) {
                        fprintf(stderr, "formatted expression does not parse: %s\n  %.*s\n",
                                err.msg, (int)b.len, b.p);
                        abort();
                }
                sl_buf_free(&b);
                return;
        }
        FUZZ_CHECK(s->nstmts == 1 && s->stmts[0].select && s->stmts[0].select->nitems == 1);
        char *again = malloc(n + 1);
        FUZZ_CHECK(again != NULL);
        size_t m = sl_expr_format(s->stmts[0].select->items[0].expr, again, n + 1);
        if (m != n || memcmp(again, text, n) != 0) {
                fprintf(stderr, "format does not round-trip:\n  %.*s\n  %.*s\n", (int)n, text,
                        (int)(m < n ? m : n), again);
                abort();
        }
        free(again);
        sl_script_free(s);
        sl_buf_free(&b);
}

static void check_format(const struct sl_expr *e)
{
        char small[8];
        size_t n = sl_expr_format(e, NULL, 0);
        char *full = malloc(n + 1);
        FUZZ_CHECK(full != NULL);
        /* A string literal may hold a NUL byte, so no strlen() here. */
        size_t cut = n < sizeof small ? n : sizeof small - 1;
        memset(full, 'x', n + 1);
        memset(small, 'x', sizeof small);
        FUZZ_CHECK(sl_expr_format(e, full, n + 1) == n && full[n] == '\0');
        FUZZ_CHECK(sl_expr_format(e, small, sizeof small) == n && small[cut] == '\0');
        FUZZ_CHECK(memcmp(small, full, cut) == 0);
        check_reparse(full, n);
        free(full);
}

static void format_all(const struct sl_script *s)
{
        for (uint32_t i = 0; i < s->nstmts; i++) {
                const struct sl_select *sel = s->stmts[i].select;
                if (!sel)
                        continue;
                for (uint32_t k = 0; k < sel->nitems; k++)
                        check_format(sel->items[k].expr);
                if (sel->where)
                        check_format(sel->where);
                for (uint32_t k = 0; k < sel->ngroup; k++)
                        check_format(sel->group[k]);
                if (sel->having)
                        check_format(sel->having);
        }
}

static void run_plan(const struct sl_plan *p)
{
        struct sl_buf b = {0};
        sl_plan_explain(p, &b);
        FUZZ_CHECK(sl_buf_ok(&b));
        int rc = sl_fb_schema_text(p, NULL, &b);
        FUZZ_CHECK(rc == 0 || rc == -ENODATA);
        for (uint32_t i = 0; i < p->nsources; i++)
                FUZZ_CHECK(sl_fb_schema_text(p, p->sources[i].name, &b) == 0);
        for (uint32_t i = 0; i < p->nqueries; i++)
                FUZZ_CHECK(sl_fb_schema_text(p, p->queries[i].name, &b) == 0);
        FUZZ_CHECK(sl_buf_ok(&b));
        sl_buf_free(&b);
        for (uint32_t i = 0; i < p->nsettings; i++)
                FUZZ_CHECK(sl_plan_setting(p, p->settings[i].key) != NULL);
        FUZZ_CHECK(sl_plan_setting(p, "no.such.setting") == NULL);
        for (uint32_t i = 0; i < p->nsources; i++) {
                int k = sl_plan_source_index(p, p->sources[i].name);
                FUZZ_CHECK(k >= 0 && (uint32_t)k <= i);
        }
        for (uint32_t i = 0; i < p->nsources && i < MAX_RUN_SOURCES; i++) {
                struct fuzz_part fp;
                FUZZ_CHECK(fuzz_part_init(&fp, p, i) == 0);
                rc = fuzz_part_feed(&fp, 0, RECORDS, i);
                FUZZ_CHECK(rc == 0);
                FUZZ_CHECK(sl_part_flush(fp.pt) == 0);
                fuzz_part_fini(&fp);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > MAX_SCRIPT)
                return 0;
        /* An exact-size copy: libFuzzer's buffer is exact too, but the
         * regression runner must not depend on that. */
        char *src = malloc(size ? size : 1);
        FUZZ_CHECK(src != NULL);
        memcpy(src, data, size);
        lex_all(src, size);

        struct sl_sql_error se;
        memset(&se, 0, sizeof se);
        struct sl_script *s = sl_sql_parse(src, size, &se);
        if (!s) {
                check_msg(se.msg, sizeof se.msg);
                FUZZ_CHECK(se.pos.line >= 1 && se.pos.col >= 1);
                free(src);
                return 0;
        }
        format_all(s);

        struct sl_plan_error pe;
        memset(&pe, 0, sizeof pe);
        struct sl_plan *p = sl_plan_build(s, "fuzz.sql", &pe);
        sl_script_free(s);
        free(src);
        if (!p) {
                check_msg(pe.msg, sizeof pe.msg);
                return 0;
        }
        run_plan(p);
        sl_plan_free(p);
        return 0;
}
