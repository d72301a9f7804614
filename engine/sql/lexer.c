/*
 * lexer.c - tokens of the pipeline language (a ksqlDB subset).
 *
 * Design: a hand-written scanner over a byte buffer with an explicit
 * length (the text need not be NUL-terminated and may contain NUL bytes,
 * which are rejected as unexpected characters).  It tracks the line and
 * the offset of the line start so that every token carries a 1-based
 * line and byte column.  Keywords are matched case-insensitively against
 * a sorted table; identifiers keep their case.  Decoded strings and names
 * are copied into the caller's arena, so tokens stay valid after the
 * lexer has moved on.
 *
 * Guarantees: every byte is examined a bounded number of times (the scan
 * is linear); an error is reported at the first byte of the token that
 * could not be read (for an unterminated string or comment, where it
 * started), and the lexer must not be called again after one.
 *
 * Only parser.c (and the tests) call this, on the parsing thread.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/sql/lexer.h"

/* Sorted by name, for bsearch-like lookup; all upper case. */
static const struct {
        const char *name;
        enum sl_kw kw;
} keywords[] = {
        { "ADVANCE", SL_KW_ADVANCE },
        { "AND", SL_KW_AND },
        { "AS", SL_KW_AS },
        { "BY", SL_KW_BY },
        { "CASE", SL_KW_CASE },
        { "CAST", SL_KW_CAST },
        { "CHANGES", SL_KW_CHANGES },
        { "CREATE", SL_KW_CREATE },
        { "ELSE", SL_KW_ELSE },
        { "EMIT", SL_KW_EMIT },
        { "END", SL_KW_END },
        { "FALSE", SL_KW_FALSE },
        { "FINAL", SL_KW_FINAL },
        { "FROM", SL_KW_FROM },
        { "GRACE", SL_KW_GRACE },
        { "GROUP", SL_KW_GROUP },
        { "HAVING", SL_KW_HAVING },
        { "HOPPING", SL_KW_HOPPING },
        { "IS", SL_KW_IS },
        { "KEY", SL_KW_KEY },
        { "NOT", SL_KW_NOT },
        { "NULL", SL_KW_NULL },
        { "OR", SL_KW_OR },
        { "PERIOD", SL_KW_PERIOD },
        { "PRIMARY", SL_KW_PRIMARY },
        { "REPLACE", SL_KW_REPLACE },
        { "SELECT", SL_KW_SELECT },
        { "SET", SL_KW_SET },
        { "SIZE", SL_KW_SIZE },
        { "STREAM", SL_KW_STREAM },
        { "TABLE", SL_KW_TABLE },
        { "THEN", SL_KW_THEN },
        { "TRUE", SL_KW_TRUE },
        { "TUMBLING", SL_KW_TUMBLING },
        { "WHEN", SL_KW_WHEN },
        { "WHERE", SL_KW_WHERE },
        { "WINDOW", SL_KW_WINDOW },
        { "WINDOWEND", SL_KW_WINDOWEND },
        { "WINDOWSTART", SL_KW_WINDOWSTART },
        { "WITH", SL_KW_WITH },
};

/* Locale-independent on purpose: a tool may call setlocale(). */
static int upper(int c)
{
        return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

static bool is_digit(int c)
{
        return c >= '0' && c <= '9';
}

static bool is_ident_start(int c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident_char(int c)
{
        return is_ident_start(c) || is_digit(c);
}

/* Compares the upper-cased s[0..n) with the NUL-terminated upper-case kw. */
static int kw_cmp(const char *s, size_t n, const char *kw)
{
        for (size_t i = 0; i < n; i++) {
                int a = upper((unsigned char)s[i]);
                int b = (unsigned char)kw[i];
                if (b == 0 || a != b)
                        return b == 0 ? 1 : a - b;
        }
        return kw[n] == 0 ? 0 : -1;
}

enum sl_kw sl_kw_lookup(const char *s, size_t n)
{
        size_t lo = 0, hi = sizeof(keywords) / sizeof(keywords[0]);
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = kw_cmp(s, n, keywords[mid].name);
                if (c == 0)
                        return keywords[mid].kw;
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return SL_KW_NONE;
}

void sl_lexer_init(struct sl_lexer *lx, const char *src, size_t len,
                   struct sl_arena *arena)
{
        assert(len < UINT32_MAX);
        lx->src = src;
        lx->len = len;
        lx->off = 0;
        lx->line = 1;
        lx->line_start = 0;
        lx->arena = arena;
}

static struct sl_pos pos_at(const struct sl_lexer *lx)
{
        struct sl_pos pos = { lx->line, (uint32_t)(lx->off - lx->line_start + 1) };
        return pos;
}

static int peek(const struct sl_lexer *lx, size_t ahead)
{
        size_t at = lx->off + ahead;
        return at < lx->len ? (unsigned char)lx->src[at] : -1;
}

/* Consumes one byte, keeping the line count; callers never pass EOF. */
static void advance(struct sl_lexer *lx)
{
        if (lx->src[lx->off] == '\n') {
                lx->line++;
                lx->line_start = lx->off + 1;
        }
        lx->off++;
}

static int fail(struct sl_sql_error *err, struct sl_pos pos, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int fail(struct sl_sql_error *err, struct sl_pos pos, const char *fmt, ...)
{
        va_list ap;
        err->pos = pos;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        return -EINVAL;
}

static int oom(struct sl_sql_error *err, struct sl_pos pos)
{
        err->pos = pos;
        snprintf(err->msg, sizeof(err->msg), "out of memory");
        return -ENOMEM;
}

/* Skips blanks and comments; fails only on an unterminated block comment. */
static int skip_space(struct sl_lexer *lx, struct sl_sql_error *err)
{
        for (;;) {
                int c = peek(lx, 0);
                if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
                        advance(lx);
                } else if (c == '-' && peek(lx, 1) == '-') {
                        while (peek(lx, 0) != -1 && peek(lx, 0) != '\n')
                                advance(lx);
                } else if (c == '/' && peek(lx, 1) == '*') {
                        struct sl_pos start = pos_at(lx);
                        advance(lx);
                        advance(lx);
                        for (;;) {
                                if (peek(lx, 0) == -1)
                                        return fail(err, start, "unterminated block comment");
                                if (peek(lx, 0) == '*' && peek(lx, 1) == '/')
                                        break;
                                advance(lx);
                        }
                        advance(lx);
                        advance(lx);
                } else {
                        return 0;
                }
        }
}

/*
 * Reads a quoted run ('...' or `...`) whose doubled quote stands for one
 * quote, decoding into the arena.  The opening quote is at lx->off.
 */
static int read_quoted(struct sl_lexer *lx, struct sl_token *tok, char q,
                       struct sl_sql_error *err)
{
        advance(lx);
        size_t start = lx->off;
        size_t n = 0; /* decoded length */
        for (;;) {
                int c = peek(lx, 0);
                if (c == -1)
                        return fail(err, tok->pos, q == '\'' ? "unterminated string literal"
                                                             : "unterminated quoted identifier");
                if (c == q) {
                        if (peek(lx, 1) != q)
                                break;
                        advance(lx);
                }
                advance(lx);
                n++;
        }
        size_t end = lx->off;
        advance(lx); /* closing quote */
        char *s = sl_arena_alloc(lx->arena, n + 1);
        if (!s)
                return oom(err, tok->pos);
        size_t j = 0;
        for (size_t i = start; i < end; i++) {
                s[j++] = lx->src[i];
                if (lx->src[i] == q)
                        i++; /* the second quote of a pair */
        }
        s[j] = '\0';
        tok->str = s;
        tok->slen = (uint32_t)n;
        return 0;
}

/*
 * Integers: digits, at most 2^63.  Decimals: digits with a '.' and/or an
 * exponent, or '.' digits.  A number that runs into a letter (5MINUTES,
 * 1e) is malformed rather than two tokens, since that is always a typo.
 */
static int read_number(struct sl_lexer *lx, struct sl_token *tok,
                       struct sl_sql_error *err)
{
        size_t start = lx->off;
        bool is_double = false;
        while (is_digit(peek(lx, 0)))
                advance(lx);
        if (peek(lx, 0) == '.') {
                is_double = true;
                advance(lx);
                while (is_digit(peek(lx, 0)))
                        advance(lx);
        }
        if (peek(lx, 0) == 'e' || peek(lx, 0) == 'E') {
                size_t sign = (peek(lx, 1) == '+' || peek(lx, 1) == '-') ? 1 : 0;
                if (is_digit(peek(lx, 1 + sign))) {
                        is_double = true;
                        advance(lx);
                        if (sign)
                                advance(lx);
                        while (is_digit(peek(lx, 0)))
                                advance(lx);
                }
        }
        if (is_ident_char(peek(lx, 0)) || peek(lx, 0) == '.') {
                while (is_ident_char(peek(lx, 0)) || peek(lx, 0) == '.')
                        advance(lx);
                size_t n = lx->off - start;
                return fail(err, tok->pos, "malformed number '%.*s%s'",
                            (int)(n > 32 ? 29 : n), lx->src + start, n > 32 ? "..." : "");
        }
        size_t n = lx->off - start;
        if (!is_double) {
                uint64_t u = 0;
                for (size_t i = start; i < lx->off; i++) {
                        unsigned d = (unsigned)(lx->src[i] - '0');
                        if (u > (UINT64_C(1) << 63) / 10 ||
                            u * 10 + d > (UINT64_C(1) << 63))
                                return fail(err, tok->pos, "integer literal out of range");
                        u = u * 10 + d;
                }
                tok->kind = SL_TOK_INT;
                tok->u = u;
                return 0;
        }
        /* strtod needs a NUL-terminated copy: the source buffer may not be. */
        char *copy = sl_arena_strndup(lx->arena, lx->src + start, n);
        if (!copy)
                return oom(err, tok->pos);
        char *endp;
        errno = 0;
        double d = strtod(copy, &endp);
        /*
         * The text is well-formed, so a short read means strtod expects
         * another decimal point: LC_NUMERIC was changed from "C" (the
         * library never calls setlocale; a tool must not set LC_NUMERIC).
         */
        if (endp != copy + n)
                return fail(err, tok->pos, "cannot read decimal literal: LC_NUMERIC is not \"C\"");
        /* Underflow to 0 or a subnormal is accepted, as every SQL engine does. */
        if (errno == ERANGE && (d > 1.0 || d < -1.0))
                return fail(err, tok->pos, "decimal literal out of range");
        tok->kind = SL_TOK_DOUBLE;
        tok->d = d;
        return 0;
}

int sl_lexer_next(struct sl_lexer *lx, struct sl_token *tok,
                  struct sl_sql_error *err)
{
        int rc = skip_space(lx, err);
        if (rc)
                return rc;
        memset(tok, 0, sizeof(*tok));
        tok->pos = pos_at(lx);
        tok->text = lx->src + lx->off;
        int c = peek(lx, 0);
        if (c == -1) {
                tok->kind = SL_TOK_EOF;
                return 0;
        }
        if (is_ident_start(c)) {
                size_t start = lx->off;
                while (is_ident_char(peek(lx, 0)))
                        advance(lx);
                size_t n = lx->off - start;
                tok->len = n;
                tok->kw = sl_kw_lookup(lx->src + start, n);
                if (tok->kw != SL_KW_NONE) {
                        tok->kind = SL_TOK_KEYWORD;
                        return 0;
                }
                tok->kind = SL_TOK_IDENT;
                tok->str = sl_arena_strndup(lx->arena, lx->src + start, n);
                if (!tok->str)
                        return oom(err, tok->pos);
                tok->slen = (uint32_t)n;
                return 0;
        }
        if (is_digit(c) || (c == '.' && is_digit(peek(lx, 1)))) {
                rc = read_number(lx, tok, err);
                tok->len = (size_t)(lx->src + lx->off - tok->text);
                return rc;
        }
        if (c == '\'' || c == '`') {
                rc = read_quoted(lx, tok, (char)c, err);
                if (rc)
                        return rc;
                tok->len = (size_t)(lx->src + lx->off - tok->text);
                if (c == '\'') {
                        tok->kind = SL_TOK_STRING;
                        return 0;
                }
                if (tok->slen == 0)
                        return fail(err, tok->pos, "empty quoted identifier");
                /* Names are C strings from here on: a NUL would cut one short. */
                if (strlen(tok->str) != tok->slen)
                        return fail(err, tok->pos, "NUL byte in quoted identifier");
                tok->kind = SL_TOK_IDENT;
                tok->quoted = true;
                return 0;
        }
        int c1 = peek(lx, 1);
        size_t n = 1;
        switch (c) {
        case '+': tok->kind = SL_TOK_PLUS; break;
        case '-': tok->kind = SL_TOK_MINUS; break;
        case '*': tok->kind = SL_TOK_STAR; break;
        case '/': tok->kind = SL_TOK_SLASH; break;
        case '%': tok->kind = SL_TOK_PERCENT; break;
        case '=': tok->kind = SL_TOK_EQ; break;
        case '(': tok->kind = SL_TOK_LPAREN; break;
        case ')': tok->kind = SL_TOK_RPAREN; break;
        case ',': tok->kind = SL_TOK_COMMA; break;
        case ';': tok->kind = SL_TOK_SEMI; break;
        case '.': tok->kind = SL_TOK_DOT; break;
        case '<':
                if (c1 == '=' || c1 == '>') {
                        tok->kind = c1 == '=' ? SL_TOK_LE : SL_TOK_NE;
                        n = 2;
                } else {
                        tok->kind = SL_TOK_LT;
                }
                break;
        case '>':
                if (c1 == '=') {
                        tok->kind = SL_TOK_GE;
                        n = 2;
                } else {
                        tok->kind = SL_TOK_GT;
                }
                break;
        case '|':
                if (c1 == '|') {
                        tok->kind = SL_TOK_CONCAT;
                        n = 2;
                        break;
                }
                return fail(err, tok->pos, "unexpected character '|' (did you mean '||'?)");
        case '!':
                if (c1 == '=') {
                        tok->kind = SL_TOK_NE;
                        n = 2;
                        break;
                }
                return fail(err, tok->pos, "unexpected character '!' (did you mean '!=' or NOT?)");
        case '"':
                return fail(err, tok->pos,
                            "unexpected character '\"' (quote names with backticks, strings with single quotes)");
        default:
                if (c >= 0x21 && c < 0x7f)
                        return fail(err, tok->pos, "unexpected character '%c'", c);
                return fail(err, tok->pos, "unexpected byte 0x%02X", (unsigned)c);
        }
        for (size_t i = 0; i < n; i++)
                advance(lx);
        tok->len = n;
        return 0;
}

void sl_token_describe(const struct sl_token *tok, char *buf, size_t cap)
{
        enum { MAX_SHOWN = 32 };
        if (cap == 0)
                return;
        if (tok->kind == SL_TOK_EOF) {
                snprintf(buf, cap, "end of input");
                return;
        }
        /* Show one line at most: a string literal may span several. */
        size_t n = 0;
        while (n < tok->len && tok->text[n] != '\n' && tok->text[n] != '\r')
                n++;
        bool cut = n < tok->len;
        if (n > MAX_SHOWN) {
                n = MAX_SHOWN - 3;
                /* Back off to a UTF-8 character boundary. */
                while (n > 0 && ((unsigned char)tok->text[n] & 0xC0) == 0x80)
                        n--;
                cut = true;
        }
        char shown[MAX_SHOWN + 1];
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)tok->text[i];
                shown[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
        }
        shown[n] = '\0';
        /* A string literal already carries its quotes. */
        if (tok->kind == SL_TOK_STRING)
                snprintf(buf, cap, "string %s%s", shown, cut ? "..." : "");
        else
                snprintf(buf, cap, "'%s%s'", shown, cut ? "..." : "");
}
