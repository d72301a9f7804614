/*
 * format.c - writes an expression tree back as SQL text, for `sluice
 * explain` and for error messages that quote an expression.
 *
 * Design: every binary operator, unary operator and IS [NOT] NULL test is
 * wrapped in parentheses, so the output never depends on precedence and
 * reads back (through sl_sql_parse) as the same tree.  Names that are not
 * plain identifiers, or that spell a keyword, are backticked; decimals
 * are printed with the fewest digits that read back to the same double,
 * and always with a '.' or exponent so they stay decimals.
 *
 * Guarantees: snprintf semantics - never writes more than cap bytes,
 * NUL-terminates whenever cap > 0, and returns the length the full text
 * would have.  Recursion depth is the tree height (trees from the parser
 * are at most 256 high).  Pure function: any thread.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/sql/ast.h"
#include "engine/sql/lexer.h"

struct sl_fmt {
        char *buf;
        size_t cap;
        size_t len; /* what the full text needs, excluding the NUL */
};

static void put(struct sl_fmt *f, const char *s, size_t n)
{
        if (f->len < f->cap) {
                size_t room = f->cap - f->len - 1;
                memcpy(f->buf + f->len, s, n < room ? n : room);
        }
        f->len += n;
}

static void put_str(struct sl_fmt *f, const char *s)
{
        put(f, s, strlen(s));
}

/* s quoted with q, a doubled q standing for one. */
static void put_quoted(struct sl_fmt *f, const char *s, size_t n, char q)
{
        put(f, &q, 1);
        size_t from = 0;
        for (size_t i = 0; i < n; i++) {
                if (s[i] == q) {
                        put(f, s + from, i + 1 - from);
                        put(f, &q, 1);
                        from = i + 1;
                }
        }
        put(f, s + from, n - from);
        put(f, &q, 1);
}

static bool plain_name(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || sl_kw_lookup(s, n) != SL_KW_NONE)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                          (i > 0 && c >= '0' && c <= '9');
                if (!ok)
                        return false;
        }
        return true;
}

static void put_name(struct sl_fmt *f, const char *s)
{
        if (plain_name(s))
                put_str(f, s);
        else
                put_quoted(f, s, strlen(s), '`');
}

static void put_double(struct sl_fmt *f, double d)
{
        char tmp[40];
        if (!isfinite(d)) {
                snprintf(tmp, sizeof(tmp), "%g", d);
                put_str(f, tmp);
                return;
        }
        /* The shortest of %.15g..%.17g that reads back exactly. */
        for (int prec = 15; prec <= 17; prec++) {
                snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
                if (strtod(tmp, NULL) == d)
                        break;
        }
        if (!strpbrk(tmp, ".eE"))
                strcat(tmp, ".0");
        put_str(f, tmp);
}

static const char *op_text(enum sl_op op)
{
        switch (op) {
        case SL_OP_NONE: return "?";
        case SL_OP_NEG: return "-";
        case SL_OP_NOT: return "NOT ";
        case SL_OP_ADD: return " + ";
        case SL_OP_SUB: return " - ";
        case SL_OP_MUL: return " * ";
        case SL_OP_DIV: return " / ";
        case SL_OP_MOD: return " % ";
        case SL_OP_EQ: return " = ";
        case SL_OP_NE: return " <> ";
        case SL_OP_LT: return " < ";
        case SL_OP_LE: return " <= ";
        case SL_OP_GT: return " > ";
        case SL_OP_GE: return " >= ";
        case SL_OP_AND: return " AND ";
        case SL_OP_OR: return " OR ";
        case SL_OP_CONCAT: return " || ";
        }
        return "?";
}

static bool is_number(const struct sl_expr *e)
{
        return e->kind == SL_EX_INT || e->kind == SL_EX_DOUBLE;
}

static void format(struct sl_fmt *f, const struct sl_expr *e)
{
        char tmp[32];
        switch (e->kind) {
        case SL_EX_INT:
                snprintf(tmp, sizeof(tmp), "%" PRId64, e->u.i);
                put_str(f, tmp);
                break;
        case SL_EX_DOUBLE:
                put_double(f, e->u.d);
                break;
        case SL_EX_STRING:
                put_quoted(f, e->u.s.p, e->u.s.len, '\'');
                break;
        case SL_EX_BOOL:
                put_str(f, e->u.b ? "TRUE" : "FALSE");
                break;
        case SL_EX_NULL:
                put_str(f, "NULL");
                break;
        case SL_EX_COLUMN:
                if (e->qualifier) {
                        put_name(f, e->qualifier);
                        put_str(f, ".");
                }
                put_name(f, e->name);
                break;
        case SL_EX_WINDOWSTART:
                put_str(f, "WINDOWSTART");
                break;
        case SL_EX_WINDOWEND:
                put_str(f, "WINDOWEND");
                break;
        case SL_EX_UNARY:
                put_str(f, "(");
                put_str(f, op_text(e->op));
                /*
                 * The parser folds '-' into a numeric literal, so NEG of a
                 * literal keeps its own parentheses to read back as NEG;
                 * and "--" would start a comment.
                 */
                if (e->op == SL_OP_NEG && is_number(e->args[0])) {
                        put_str(f, "(");
                        format(f, e->args[0]);
                        put_str(f, ")");
                } else {
                        format(f, e->args[0]);
                }
                put_str(f, ")");
                break;
        case SL_EX_BINARY:
                put_str(f, "(");
                format(f, e->args[0]);
                put_str(f, op_text(e->op));
                format(f, e->args[1]);
                put_str(f, ")");
                break;
        case SL_EX_IS_NULL:
                put_str(f, "(");
                format(f, e->args[0]);
                put_str(f, e->negated ? " IS NOT NULL)" : " IS NULL)");
                break;
        case SL_EX_CALL:
                put_name(f, e->name);
                put_str(f, "(");
                if (e->star)
                        put_str(f, "*");
                for (uint32_t i = 0; i < e->nargs; i++) {
                        if (i)
                                put_str(f, ", ");
                        format(f, e->args[i]);
                }
                put_str(f, ")");
                break;
        case SL_EX_CASE: {
                uint32_t i = 0, end = e->nargs - (e->has_else ? 1 : 0);
                put_str(f, "CASE");
                if (e->has_operand) {
                        put_str(f, " ");
                        format(f, e->args[i++]);
                }
                for (; i < end; i += 2) {
                        put_str(f, " WHEN ");
                        format(f, e->args[i]);
                        put_str(f, " THEN ");
                        format(f, e->args[i + 1]);
                }
                if (e->has_else) {
                        put_str(f, " ELSE ");
                        format(f, e->args[end]);
                }
                put_str(f, " END");
                break;
        }
        case SL_EX_CAST:
                put_str(f, "CAST(");
                format(f, e->args[0]);
                put_str(f, " AS ");
                put_str(f, sl_type_name(e->cast_to));
                put_str(f, ")");
                break;
        }
}

size_t sl_expr_format(const struct sl_expr *e, char *buf, size_t cap)
{
        struct sl_fmt f = { buf, cap, 0 };
        format(&f, e);
        if (cap)
                buf[f.len < cap ? f.len : cap - 1] = '\0';
        return f.len;
}
