/*
 * ast.h - the syntax tree of a pipeline script, as the parser builds it.
 *
 * The parser (sql_parser.c) produces a struct sl_script; the planner
 * (plan.c) reads it and never changes it.  Every node lives in the
 * script's arena and is freed with sl_script_free().  Names keep the case
 * they were written in (backticks stripped); keywords are recognised
 * case-insensitively.  Every node carries the 1-based line and column of
 * its first character so that the planner can report FILE:LINE:COL.
 */
#ifndef SL_SQL_AST_H
#define SL_SQL_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/value.h"

struct sl_pos {
        uint32_t line; /* 1-based */
        uint32_t col;  /* 1-based, in bytes */
};

enum sl_expr_kind {
        SL_EX_INT,         /* u.i */
        SL_EX_DOUBLE,      /* u.d */
        SL_EX_STRING,      /* u.s: decoded ('' -> ') */
        SL_EX_BOOL,        /* u.b */
        SL_EX_NULL,
        SL_EX_COLUMN,      /* name */
        SL_EX_WINDOWSTART, /* the keyword WINDOWSTART (not backticked) */
        SL_EX_WINDOWEND,   /* the keyword WINDOWEND (not backticked) */
        SL_EX_UNARY,       /* op, args[0] */
        SL_EX_BINARY,      /* op, args[0], args[1] */
        SL_EX_IS_NULL,     /* args[0]; negated = IS NOT NULL */
        SL_EX_CALL,        /* name(args...) or name(*) with star */
        SL_EX_CASE,        /* args: [operand] when1 then1 ... [else]; see has_operand, has_else */
        SL_EX_CAST,        /* CAST(args[0] AS cast_to) */
};

enum sl_op {
        SL_OP_NONE = 0,
        SL_OP_NEG, /* unary - */
        SL_OP_NOT,
        SL_OP_ADD,
        SL_OP_SUB,
        SL_OP_MUL,
        SL_OP_DIV,
        SL_OP_MOD,
        SL_OP_EQ, /* = */
        SL_OP_NE, /* <> or != */
        SL_OP_LT,
        SL_OP_LE,
        SL_OP_GT,
        SL_OP_GE,
        SL_OP_AND,
        SL_OP_OR,
        SL_OP_CONCAT, /* || */
};

struct sl_expr {
        enum sl_expr_kind kind;
        enum sl_op op;
        struct sl_pos pos;
        const char *name; /* COLUMN, CALL: as written, NUL-terminated */
        union {
                int64_t i;
                double d;
                bool b;
                struct {
                        const char *p; /* NUL-terminated too */
                        uint32_t len;
                } s;
        } u;
        bool negated; /* IS NOT NULL */
        bool star;    /* CALL: f(*) */
        uint32_t nargs;
        struct sl_expr **args;
        const char *qualifier; /* COLUMN: s in s.col (name is col); NULL if unqualified */
        bool has_operand;      /* CASE x WHEN ...: args[0] is x */
        bool has_else;         /* CASE ... ELSE e END: the last arg is e */
        enum sl_type cast_to;  /* CAST: the target type */
};

struct sl_column_def {
        const char *name;
        enum sl_type type;
        bool key; /* declared KEY (or PRIMARY KEY) */
        bool primary; /* declared PRIMARY KEY */
        struct sl_pos pos;
};

/* One WITH (NAME = value) property.  The value is a string or a number. */
struct sl_prop {
        const char *name; /* as written */
        struct sl_pos pos;
        bool is_string;
        const char *str; /* is_string: decoded string literal */
        int64_t num;     /* !is_string: integer literal */
        struct sl_pos value_pos;
};

enum sl_window_kind {
        SL_WIN_NONE = 0,
        SL_WIN_TUMBLING,
        SL_WIN_HOPPING,
        SL_WIN_SESSION,
};

struct sl_window_def {
        enum sl_window_kind kind;
        struct sl_pos pos;
        int64_t size_ms;    /* SESSION: the inactivity gap */
        int64_t advance_ms; /* HOPPING only */
        int64_t grace_ms;   /* 0 unless given */
        bool has_grace;
};

enum sl_emit {
        SL_EMIT_NONE = 0, /* not written */
        SL_EMIT_CHANGES,
        SL_EMIT_FINAL,
};

struct sl_select_item {
        struct sl_expr *expr;
        const char *alias; /* NULL when no AS */
        struct sl_pos pos;
};

/* [INNER | LEFT [OUTER]] JOIN table [alias] ON expr, after FROM. */
struct sl_join_def {
        bool present;
        bool left;        /* LEFT [OUTER] JOIN; else INNER */
        struct sl_pos pos; /* of the first word (LEFT, INNER or JOIN) */
        const char *table;
        struct sl_pos table_pos;
        const char *alias; /* NULL if none */
        struct sl_pos alias_pos;
        struct sl_expr *on;
};

struct sl_select {
        struct sl_pos pos;
        uint32_t nitems;
        struct sl_select_item *items;
        const char *from;
        struct sl_pos from_pos;
        struct sl_window_def window;
        struct sl_expr *where; /* NULL if absent */
        uint32_t ngroup;
        struct sl_expr **group; /* GROUP BY expressions */
        struct sl_pos group_pos;
        struct sl_expr *having; /* NULL if absent */
        enum sl_emit emit;
        struct sl_pos emit_pos;
        const char *from_alias; /* FROM s alias: NULL if none */
        struct sl_pos from_alias_pos;
        struct sl_join_def join;
};

enum sl_stmt_kind {
        SL_ST_SET,           /* SET 'k' = 'v' */
        SL_ST_CREATE_STREAM, /* CREATE STREAM s (cols) WITH (...) */
        SL_ST_CREATE_STREAM_AS, /* CREATE STREAM s [WITH (...)] AS SELECT */
        SL_ST_CREATE_TABLE_AS,  /* CREATE TABLE t [WITH (...)] AS SELECT */
        SL_ST_CREATE_TABLE,     /* CREATE TABLE t (cols, one PRIMARY KEY) WITH (...) */
};

struct sl_stmt {
        enum sl_stmt_kind kind;
        struct sl_pos pos;
        const char *name; /* stream/table name; NULL for SET */
        struct sl_pos name_pos;
        uint32_t ncols;
        struct sl_column_def *cols; /* CREATE STREAM, CREATE TABLE (cols) only */
        uint32_t nprops;
        struct sl_prop *props;
        struct sl_select *select; /* *_AS only */
        const char *set_key;      /* SET only */
        const char *set_value;
        struct sl_pos set_value_pos;
        bool or_replace; /* CREATE OR REPLACE was written; the engine treats it as CREATE */
};

struct sl_script {
        uint32_t nstmts;
        struct sl_stmt *stmts;
        struct sl_arena *arena; /* owns every node and string above */
};

struct sl_sql_error {
        struct sl_pos pos;
        char msg[256]; /* one line, no position prefix, no trailing newline */
};

/*
 * Parses a whole script.  Returns the script, owned by the caller (free
 * with sl_script_free), or NULL with *err filled at the first error.
 */
struct sl_script *sl_sql_parse(const char *src, size_t len,
                               struct sl_sql_error *err);
void sl_script_free(struct sl_script *script);

/* Debug/explain: writes the expression back as SQL text into buf. */
size_t sl_expr_format(const struct sl_expr *e, char *buf, size_t cap);

#endif
