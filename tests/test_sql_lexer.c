/*
 * test_sql_lexer.c - tokens, positions and lexical errors of the pipeline
 * language, and the arena the lexer allocates from.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/arena.h"
#include "engine/sql/lexer.h"

#define MAX_TOKS 64

struct lexed {
        struct sl_arena *arena;
        struct sl_token toks[MAX_TOKS];
        size_t n; /* tokens read, including the final EOF */
        int rc;   /* 0, or the error of the last call */
        struct sl_sql_error err;
};

/* Lexes src up to EOF or the first error. */
static void lex(struct lexed *lx, const char *src)
{
        struct sl_lexer l;
        memset(lx, 0, sizeof(*lx));
        lx->arena = sl_arena_new(0);
        assert_non_null(lx->arena);
        sl_lexer_init(&l, src, strlen(src), lx->arena);
        for (;;) {
                assert_true(lx->n < MAX_TOKS);
                lx->rc = sl_lexer_next(&l, &lx->toks[lx->n], &lx->err);
                if (lx->rc)
                        return;
                if (lx->toks[lx->n++].kind == SL_TOK_EOF)
                        return;
        }
}

static void done(struct lexed *lx)
{
        sl_arena_destroy(lx->arena);
}

static void assert_tok(const struct sl_token *t, enum sl_tok kind, uint32_t line, uint32_t col,
                       const char *text)
{
        assert_int_equal(t->kind, kind);
        assert_int_equal(t->pos.line, line);
        assert_int_equal(t->pos.col, col);
        assert_int_equal(t->len, strlen(text));
        assert_memory_equal(t->text, text, t->len);
}

static void assert_lex_error(const char *src, uint32_t line, uint32_t col, const char *msg)
{
        struct lexed lx;
        lex(&lx, src);
        assert_int_equal(lx.rc, -EINVAL);
        assert_string_equal(lx.err.msg, msg);
        assert_int_equal(lx.err.pos.line, line);
        assert_int_equal(lx.err.pos.col, col);
        done(&lx);
}

static void test_keywords_any_case(void **state)
{
        (void)state;
        struct lexed lx;
        lex(&lx, "select SeLeCt SELECT windowStart Emit");
        assert_int_equal(lx.rc, 0);
        assert_int_equal(lx.n, 6);
        for (int i = 0; i < 3; i++) {
                assert_int_equal(lx.toks[i].kind, SL_TOK_KEYWORD);
                assert_int_equal(lx.toks[i].kw, SL_KW_SELECT);
        }
        assert_tok(&lx.toks[1], SL_TOK_KEYWORD, 1, 8, "SeLeCt");
        assert_int_equal(lx.toks[3].kw, SL_KW_WINDOWSTART);
        assert_int_equal(lx.toks[4].kw, SL_KW_EMIT);
        assert_tok(&lx.toks[5], SL_TOK_EOF, 1, 38, "");
        done(&lx);
}

static void test_identifiers_keep_case(void **state)
{
        (void)state;
        struct lexed lx;
        lex(&lx, "userId _x9 selected STRING");
        assert_int_equal(lx.rc, 0);
        assert_tok(&lx.toks[0], SL_TOK_IDENT, 1, 1, "userId");
        assert_string_equal(lx.toks[0].str, "userId");
        assert_int_equal(lx.toks[0].slen, 6);
        assert_false(lx.toks[0].quoted);
        assert_string_equal(lx.toks[1].str, "_x9");
        /* A keyword prefix does not make a keyword. */
        assert_int_equal(lx.toks[2].kind, SL_TOK_IDENT);
        assert_string_equal(lx.toks[2].str, "selected");
        /* Type names are not keywords. */
        assert_int_equal(lx.toks[3].kind, SL_TOK_IDENT);
        done(&lx);
}

static void test_backtick_identifiers(void **state)
{
        (void)state;
        struct lexed lx;
        lex(&lx, "`timestamp` `SELECT` `a``b` `with space`");
        assert_int_equal(lx.rc, 0);
        assert_tok(&lx.toks[0], SL_TOK_IDENT, 1, 1, "`timestamp`");
        assert_string_equal(lx.toks[0].str, "timestamp");
        assert_true(lx.toks[0].quoted);
        assert_int_equal(lx.toks[1].kind, SL_TOK_IDENT);
        assert_int_equal(lx.toks[1].kw, SL_KW_NONE);
        assert_string_equal(lx.toks[1].str, "SELECT");
        assert_tok(&lx.toks[2], SL_TOK_IDENT, 1, 22, "`a``b`");
        assert_string_equal(lx.toks[2].str, "a`b");
        assert_int_equal(lx.toks[2].slen, 3);
        assert_string_equal(lx.toks[3].str, "with space");
        done(&lx);
}

static void test_strings(void **state)
{
        (void)state;
        struct lexed lx;
        lex(&lx, "'it''s' '' 'a\nb' ''''");
        assert_int_equal(lx.rc, 0);
        assert_tok(&lx.toks[0], SL_TOK_STRING, 1, 1, "'it''s'");
        assert_string_equal(lx.toks[0].str, "it's");
        assert_int_equal(lx.toks[0].slen, 4);
        assert_int_equal(lx.toks[1].slen, 0);
        assert_string_equal(lx.toks[1].str, "");
        /* A string may span lines; the next token's line follows it. */
        assert_string_equal(lx.toks[2].str, "a\nb");
        assert_tok(&lx.toks[3], SL_TOK_STRING, 2, 4, "''''");
        assert_string_equal(lx.toks[3].str, "'");
        done(&lx);
}

static void test_numbers(void **state)
{
        (void)state;
        struct lexed lx;
        lex(&lx, "0 42 1.5 1e3 .5 2.5E-3 7. 9223372036854775807 9223372036854775808 1e-400");
        assert_int_equal(lx.rc, 0);
        assert_int_equal(lx.toks[0].kind, SL_TOK_INT);
        assert_int_equal(lx.toks[0].u, 0);
        assert_int_equal(lx.toks[1].kind, SL_TOK_INT);
        assert_int_equal(lx.toks[1].u, 42);
        assert_int_equal(lx.toks[2].kind, SL_TOK_DOUBLE);
        assert_true(lx.toks[2].d == 1.5);
        assert_int_equal(lx.toks[3].kind, SL_TOK_DOUBLE);
        assert_true(lx.toks[3].d == 1000.0);
        assert_tok(&lx.toks[4], SL_TOK_DOUBLE, 1, 14, ".5");
        assert_true(lx.toks[4].d == 0.5);
        assert_tok(&lx.toks[5], SL_TOK_DOUBLE, 1, 17, "2.5E-3");
        assert_true(lx.toks[5].d == 2.5e-3);
        assert_int_equal(lx.toks[6].kind, SL_TOK_DOUBLE);
        assert_true(lx.toks[6].d == 7.0);
        assert_int_equal(lx.toks[7].kind, SL_TOK_INT);
        assert_true(lx.toks[7].u == INT64_MAX);
        /* 2^63 lexes; only the parser knows whether a minus precedes it. */
        assert_int_equal(lx.toks[8].kind, SL_TOK_INT);
        assert_true(lx.toks[8].u == UINT64_C(9223372036854775808));
        /* Underflow reads as (nearly) zero rather than an error. */
        assert_int_equal(lx.toks[9].kind, SL_TOK_DOUBLE);
        assert_true(lx.toks[9].d == 0.0);
        done(&lx);
}

static void test_operators(void **state)
{
        (void)state;
        static const enum sl_tok want[] = {
                SL_TOK_PLUS,   SL_TOK_MINUS,  SL_TOK_STAR, SL_TOK_SLASH,  SL_TOK_PERCENT,
                SL_TOK_EQ,     SL_TOK_NE,     SL_TOK_NE,   SL_TOK_LT,     SL_TOK_LE,
                SL_TOK_GT,     SL_TOK_GE,     SL_TOK_LPAREN, SL_TOK_RPAREN, SL_TOK_COMMA,
                SL_TOK_SEMI,   SL_TOK_DOT,    SL_TOK_LT,   SL_TOK_GT,     SL_TOK_EOF,
        };
        struct lexed lx;
        lex(&lx, "+-*/%=<>!=<<=>>=(),;.< >");
        assert_int_equal(lx.rc, 0);
        assert_int_equal(lx.n, sizeof(want) / sizeof(want[0]));
        for (size_t i = 0; i < lx.n; i++)
                assert_int_equal(lx.toks[i].kind, want[i]);
        assert_tok(&lx.toks[6], SL_TOK_NE, 1, 7, "<>");
        assert_tok(&lx.toks[7], SL_TOK_NE, 1, 9, "!=");
        assert_tok(&lx.toks[9], SL_TOK_LE, 1, 12, "<=");
        done(&lx);
}

static void test_qualified_name_is_three_tokens(void **state)
{
        (void)state;
        struct lexed lx;
        lex(&lx, "s.col");
        assert_int_equal(lx.rc, 0);
        assert_int_equal(lx.n, 4);
        assert_tok(&lx.toks[0], SL_TOK_IDENT, 1, 1, "s");
        assert_tok(&lx.toks[1], SL_TOK_DOT, 1, 2, ".");
        assert_tok(&lx.toks[2], SL_TOK_IDENT, 1, 3, "col");
        done(&lx);
}

static void test_comments_and_positions(void **state)
{
        (void)state;
        struct lexed lx;
        lex(&lx, "-- header\n"
                 "a /* one\n"
                 "two */ b\n"
                 "\tc -- trailing - - \n"
                 "  d/**/e\r\n"
                 "5-3");
        assert_int_equal(lx.rc, 0);
        assert_tok(&lx.toks[0], SL_TOK_IDENT, 2, 1, "a");
        assert_tok(&lx.toks[1], SL_TOK_IDENT, 3, 8, "b");
        assert_tok(&lx.toks[2], SL_TOK_IDENT, 4, 2, "c");
        assert_tok(&lx.toks[3], SL_TOK_IDENT, 5, 3, "d");
        assert_tok(&lx.toks[4], SL_TOK_IDENT, 5, 8, "e");
        /* A single minus is an operator, not a comment. */
        assert_tok(&lx.toks[5], SL_TOK_INT, 6, 1, "5");
        assert_tok(&lx.toks[6], SL_TOK_MINUS, 6, 2, "-");
        assert_tok(&lx.toks[7], SL_TOK_INT, 6, 3, "3");
        assert_tok(&lx.toks[8], SL_TOK_EOF, 6, 4, "");
        done(&lx);
}

static void test_eof_repeats(void **state)
{
        (void)state;
        struct sl_arena *a = sl_arena_new(0);
        struct sl_lexer l;
        struct sl_token t;
        struct sl_sql_error err;
        sl_lexer_init(&l, "x", 1, a);
        assert_int_equal(sl_lexer_next(&l, &t, &err), 0);
        assert_int_equal(t.kind, SL_TOK_IDENT);
        for (int i = 0; i < 3; i++) {
                assert_int_equal(sl_lexer_next(&l, &t, &err), 0);
                assert_int_equal(t.kind, SL_TOK_EOF);
                assert_int_equal(t.pos.col, 2);
        }
        sl_arena_destroy(a);
}

static void test_not_nul_terminated(void **state)
{
        (void)state;
        /* Only the first 3 bytes belong to the input. */
        static const char src[] = { 'a', 'b', ' ', 'c', 'd' };
        struct sl_arena *a = sl_arena_new(0);
        struct sl_lexer l;
        struct sl_token t;
        struct sl_sql_error err;
        sl_lexer_init(&l, src, 3, a);
        assert_int_equal(sl_lexer_next(&l, &t, &err), 0);
        assert_string_equal(t.str, "ab");
        assert_int_equal(sl_lexer_next(&l, &t, &err), 0);
        assert_int_equal(t.kind, SL_TOK_EOF);
        sl_arena_destroy(a);
}

static void test_errors(void **state)
{
        (void)state;
        assert_lex_error("a 'abc", 1, 3, "unterminated string literal");
        assert_lex_error("x\n  'it''s\n", 2, 3, "unterminated string literal");
        assert_lex_error("a /* b\n c", 1, 3, "unterminated block comment");
        assert_lex_error("a\n `abc", 2, 2, "unterminated quoted identifier");
        assert_lex_error("a ``", 1, 3, "empty quoted identifier");
        assert_lex_error("9223372036854775809", 1, 1, "integer literal out of range");
        assert_lex_error("x = 99999999999999999999999", 1, 5, "integer literal out of range");
        assert_lex_error("1e999", 1, 1, "decimal literal out of range");
        assert_lex_error("SIZE 5MINUTES", 1, 6, "malformed number '5MINUTES'");
        assert_lex_error("1e", 1, 1, "malformed number '1e'");
        assert_lex_error("1.2.3", 1, 1, "malformed number '1.2.3'");
        assert_lex_error("a # b", 1, 3, "unexpected character '#'");
        assert_lex_error("a ! b", 1, 3, "unexpected character '!' (did you mean '!=' or NOT?)");
        assert_lex_error("\"col\"", 1, 1,
                         "unexpected character '\"' (quote names with backticks, strings with single quotes)");
        assert_lex_error("a\n\x01", 2, 1, "unexpected byte 0x01");
        assert_lex_error("caf\xc3\xa9", 1, 4, "unexpected byte 0xC3");
}

static void test_nul_byte_is_an_error(void **state)
{
        (void)state;
        static const char src[] = { 'a', ' ', '\0', 'b' };
        struct sl_arena *a = sl_arena_new(0);
        struct sl_lexer l;
        struct sl_token t;
        struct sl_sql_error err;
        sl_lexer_init(&l, src, sizeof(src), a);
        assert_int_equal(sl_lexer_next(&l, &t, &err), 0);
        assert_int_equal(sl_lexer_next(&l, &t, &err), -EINVAL);
        assert_string_equal(err.msg, "unexpected byte 0x00");
        assert_int_equal(err.pos.col, 3);
        sl_arena_destroy(a);
}

static void test_describe(void **state)
{
        (void)state;
        struct lexed lx;
        char buf[64];
        lex(&lx, "FROM 'a\nb' `x` aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 'short'");
        assert_int_equal(lx.rc, 0);
        sl_token_describe(&lx.toks[0], buf, sizeof(buf));
        assert_string_equal(buf, "'FROM'");
        sl_token_describe(&lx.toks[1], buf, sizeof(buf));
        assert_string_equal(buf, "string 'a...");
        sl_token_describe(&lx.toks[2], buf, sizeof(buf));
        assert_string_equal(buf, "'`x`'");
        sl_token_describe(&lx.toks[3], buf, sizeof(buf));
        assert_string_equal(buf, "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'");
        sl_token_describe(&lx.toks[4], buf, sizeof(buf));
        assert_string_equal(buf, "string 'short'");
        sl_token_describe(&lx.toks[5], buf, sizeof(buf));
        assert_string_equal(buf, "end of input");
        /* A small buffer truncates, still terminated. */
        sl_token_describe(&lx.toks[0], buf, 4);
        assert_string_equal(buf, "'FR");
        done(&lx);
}

static void test_kw_lookup(void **state)
{
        (void)state;
        assert_int_equal(sl_kw_lookup("advance", 7), SL_KW_ADVANCE);
        assert_int_equal(sl_kw_lookup("WITH", 4), SL_KW_WITH);
        assert_int_equal(sl_kw_lookup("WindowEnd", 9), SL_KW_WINDOWEND);
        assert_int_equal(sl_kw_lookup("WINDOWS", 7), SL_KW_NONE);
        assert_int_equal(sl_kw_lookup("WIT", 3), SL_KW_NONE);
        assert_int_equal(sl_kw_lookup("", 0), SL_KW_NONE);
        assert_int_equal(sl_kw_lookup("ZZZ", 3), SL_KW_NONE);
}

/* The arena lives with its first user until it has a test program of its own. */
static void test_arena_alignment_and_growth(void **state)
{
        (void)state;
        struct sl_arena *a = sl_arena_new(64);
        assert_non_null(a);
        char *prev = NULL;
        for (size_t i = 0; i < 1000; i++) {
                size_t size = i % 37;
                char *p = sl_arena_alloc(a, size);
                assert_non_null(p);
                assert_int_equal((uintptr_t)p % SL_ARENA_ALIGN, 0);
                assert_true(p != prev);
                memset(p, (int)i, size);
                prev = p;
        }
        /* Oversize requests get their own chunk and stay usable. */
        char *big = sl_arena_alloc(a, 100000);
        assert_non_null(big);
        assert_int_equal((uintptr_t)big % SL_ARENA_ALIGN, 0);
        memset(big, 0xab, 100000);
        char *small = sl_arena_alloc(a, 8);
        assert_non_null(small);
        memset(small, 1, 8);
        assert_int_equal((unsigned char)big[99999], 0xab);
        assert_null(sl_arena_alloc(a, SIZE_MAX));
        assert_null(sl_arena_alloc(a, SIZE_MAX - 8));
        sl_arena_destroy(a);
        sl_arena_destroy(NULL);
}

static void test_arena_strndup(void **state)
{
        (void)state;
        struct sl_arena *a = sl_arena_new(0);
        char *s = sl_arena_strndup(a, "hello world", 5);
        assert_string_equal(s, "hello");
        char *e = sl_arena_strndup(a, NULL, 0);
        assert_string_equal(e, "");
        char *z = sl_arena_strndup(a, "a\0b", 3);
        assert_memory_equal(z, "a\0b\0", 4);
        sl_arena_destroy(a);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_keywords_any_case),
                cmocka_unit_test(test_identifiers_keep_case),
                cmocka_unit_test(test_backtick_identifiers),
                cmocka_unit_test(test_strings),
                cmocka_unit_test(test_numbers),
                cmocka_unit_test(test_operators),
                cmocka_unit_test(test_qualified_name_is_three_tokens),
                cmocka_unit_test(test_comments_and_positions),
                cmocka_unit_test(test_eof_repeats),
                cmocka_unit_test(test_not_nul_terminated),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_nul_byte_is_an_error),
                cmocka_unit_test(test_describe),
                cmocka_unit_test(test_kw_lookup),
                cmocka_unit_test(test_arena_alignment_and_growth),
                cmocka_unit_test(test_arena_strndup),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
