/*
 * lexer.h - splits pipeline-script text into tokens.
 *
 * Only the parser (parser.c) and its tests use this.  The lexer is a pull
 * iterator over a byte buffer that need not be NUL-terminated; decoded
 * strings and names go into the caller's arena.  Single-threaded.
 */
#ifndef SL_SQL_LEXER_H
#define SL_SQL_LEXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/arena.h"
#include "engine/sql/ast.h"

enum sl_tok {
        SL_TOK_EOF = 0,
        SL_TOK_IDENT,   /* bare word that is not a keyword, or a `quoted` name */
        SL_TOK_KEYWORD, /* bare word that spells a keyword, any case: see kw */
        SL_TOK_INT,     /* u */
        SL_TOK_DOUBLE,  /* d */
        SL_TOK_STRING,  /* str, slen: decoded */
        SL_TOK_PLUS,
        SL_TOK_MINUS,
        SL_TOK_STAR,
        SL_TOK_SLASH,
        SL_TOK_PERCENT,
        SL_TOK_EQ,
        SL_TOK_NE, /* <> or != */
        SL_TOK_LT,
        SL_TOK_LE,
        SL_TOK_GT,
        SL_TOK_GE,
        SL_TOK_LPAREN,
        SL_TOK_RPAREN,
        SL_TOK_COMMA,
        SL_TOK_SEMI,
        SL_TOK_DOT,
        SL_TOK_CONCAT, /* || */
};

/*
 * Keywords.  Which of them may still be used as a bare name (a column
 * called `size`, an alias called windowStart) is the parser's decision.
 * Type names and time units are not keywords: the parser matches them by
 * spelling, so that a misspelt one can be reported as such.
 */
enum sl_kw {
        SL_KW_NONE = 0,
        SL_KW_ADVANCE,
        SL_KW_AND,
        SL_KW_AS,
        SL_KW_BY,
        SL_KW_CASE,
        SL_KW_CAST,
        SL_KW_CHANGES,
        SL_KW_CREATE,
        SL_KW_ELSE,
        SL_KW_EMIT,
        SL_KW_END,
        SL_KW_FALSE,
        SL_KW_FINAL,
        SL_KW_FROM,
        SL_KW_GRACE,
        SL_KW_GROUP,
        SL_KW_HAVING,
        SL_KW_HOPPING,
        SL_KW_IS,
        SL_KW_KEY,
        SL_KW_NOT,
        SL_KW_NULL,
        SL_KW_OR,
        SL_KW_PERIOD,
        SL_KW_PRIMARY,
        SL_KW_REPLACE,
        SL_KW_SELECT,
        SL_KW_SET,
        SL_KW_SIZE,
        SL_KW_STREAM,
        SL_KW_TABLE,
        SL_KW_THEN,
        SL_KW_TRUE,
        SL_KW_TUMBLING,
        SL_KW_WHEN,
        SL_KW_WHERE,
        SL_KW_WINDOW,
        SL_KW_WINDOWEND,
        SL_KW_WINDOWSTART,
        SL_KW_WITH,
};

struct sl_token {
        enum sl_tok kind;
        enum sl_kw kw;    /* KEYWORD only; SL_KW_NONE otherwise */
        struct sl_pos pos; /* first byte */
        const char *text; /* the token as written, in the source buffer */
        size_t len;
        /*
         * IDENT: the name, backticks stripped and `` decoded; STRING: the
         * value, '' decoded.  NUL-terminated, in the arena.
         */
        const char *str;
        uint32_t slen;
        bool quoted; /* IDENT written in backticks */
        /*
         * INT: the magnitude, at most 2^63.  2^63 is only valid right after
         * a unary minus, which the lexer cannot see: the parser checks.
         */
        uint64_t u;
        double d; /* DOUBLE */
};

struct sl_lexer {
        const char *src;
        size_t len;
        size_t off;        /* next byte to read */
        uint32_t line;     /* of src[off], 1-based */
        size_t line_start; /* offset of the first byte of that line */
        struct sl_arena *arena;
};

/* src must hold fewer than UINT32_MAX bytes, so that columns fit. */
void sl_lexer_init(struct sl_lexer *lx, const char *src, size_t len,
                   struct sl_arena *arena);

/*
 * Reads the next token into *tok.  Returns 0, or -EINVAL with *err
 * filled (position of the bad token's first byte), or -ENOMEM.  At the
 * end it keeps returning SL_TOK_EOF.
 */
int sl_lexer_next(struct sl_lexer *lx, struct sl_token *tok,
                  struct sl_sql_error *err);

/* The keyword spelt by s[0..n) in any case, or SL_KW_NONE. */
enum sl_kw sl_kw_lookup(const char *s, size_t n);

/*
 * Describes tok for an error message: "end of input", or the text as
 * written in single quotes, truncated with "..." and cut at a line end.
 * Writes at most cap bytes including the NUL.
 */
void sl_token_describe(const struct sl_token *tok, char *buf, size_t cap);

#endif
