/*
 * parser.c - recursive-descent parser for pipeline scripts (a ksqlDB
 * subset), producing the struct sl_script of ast.h.
 *
 * Design: one token of lookahead (struct sl_parser.tok) is enough for the
 * whole grammar.  Every node, name and array is allocated in the script's
 * arena, so that the first error simply abandons the parse: the arena is
 * destroyed with everything half-built in it, and no function has to
 * unwind a partial tree.  Lists grow by doubling inside the arena (the old
 * copy is left behind; the waste is bounded by the final size).
 *
 * Keywords are split in two: reserved ones (clause and operator words)
 * never name anything unless backticked, so that the end of a clause or a
 * select item without AS is always recognisable; the others (STREAM, KEY,
 * SIZE, WINDOWSTART, ...) also serve as bare names, because real schemas
 * have columns called `key` or `size` and ksqlDB's own examples alias
 * WINDOWSTART AS windowStart.  Type names, time units and SESSION (after
 * WINDOW) are not keywords at all: they are matched by spelling where the
 * grammar expects them, so a column may still be called `session`.
 *
 * Guarantees: the first error stops the parse and is reported at the first
 * byte of the offending token with a message saying what was expected and
 * what was found.  Hostile input cannot exhaust the stack: parser
 * recursion and the height of every expression tree are both capped at
 * SL_SQL_MAX_DEPTH, so later passes may recurse over expressions freely.
 * Time and memory are linear in the input (lists grow by doubling).
 *
 * Called by the tools and the planner on whatever thread loads a script;
 * it keeps no global state.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine/arena.h"
#include "engine/sql/ast.h"
#include "engine/sql/lexer.h"

/* Both the recursion depth and the expression-tree height are capped at this. */
#define SL_SQL_MAX_DEPTH 256

struct sl_parser {
        struct sl_lexer lx;
        struct sl_token tok; /* the current token, not yet consumed */
        struct sl_arena *arena;
        struct sl_sql_error *err;
        uint32_t depth; /* nesting of parentheses, calls and prefix operators */
        char found[64]; /* scratch for describing tok in a message */
};

static int fail(struct sl_parser *p, struct sl_pos pos, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int fail(struct sl_parser *p, struct sl_pos pos, const char *fmt, ...)
{
        va_list ap;
        p->err->pos = pos;
        va_start(ap, fmt);
        vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
        va_end(ap);
        /* A `quoted` name may hold line breaks; ast.h promises one line. */
        for (char *c = p->err->msg; *c; c++)
                if (*c == '\n' || *c == '\r')
                        *c = ' ';
        return -EINVAL;
}

/* The current token, as error messages quote it. */
static const char *found(struct sl_parser *p)
{
        sl_token_describe(&p->tok, p->found, sizeof(p->found));
        return p->found;
}

static void *alloc(struct sl_parser *p, size_t size)
{
        void *ptr = sl_arena_alloc(p->arena, size);
        if (!ptr)
                fail(p, p->tok.pos, "out of memory");
        return ptr;
}

static const char *dup_name(struct sl_parser *p, const char *s, size_t n)
{
        char *d = sl_arena_strndup(p->arena, s, n);
        if (!d)
                fail(p, p->tok.pos, "out of memory");
        return d;
}

/*
 * Makes room for element n of an arena array of *cap elements; returns
 * the (possibly moved) array, or NULL on allocation failure.
 */
static void *grow(struct sl_parser *p, void *arr, uint32_t n, uint32_t *cap, size_t size)
{
        if (n < *cap)
                return arr;
        if (*cap > UINT32_MAX / 2) {
                fail(p, p->tok.pos, "too many list elements");
                return NULL;
        }
        uint32_t ncap = *cap ? *cap * 2 : 4;
        if (ncap > SIZE_MAX / size) {
                fail(p, p->tok.pos, "out of memory");
                return NULL;
        }
        void *na = alloc(p, (size_t)ncap * size);
        if (!na)
                return NULL;
        if (n)
                memcpy(na, arr, (size_t)n * size);
        *cap = ncap;
        return na;
}

static int next(struct sl_parser *p)
{
        return sl_lexer_next(&p->lx, &p->tok, p->err);
}

static bool at(const struct sl_parser *p, enum sl_tok kind)
{
        return p->tok.kind == kind;
}

static bool at_kw(const struct sl_parser *p, enum sl_kw kw)
{
        return p->tok.kind == SL_TOK_KEYWORD && p->tok.kw == kw;
}

/* Consumes a token of the given kind or fails with "expected <what>". */
static int expect(struct sl_parser *p, enum sl_tok kind, const char *what)
{
        if (!at(p, kind))
                return fail(p, p->tok.pos, "expected %s, found %s", what, found(p));
        return next(p);
}

static int expect_kw(struct sl_parser *p, enum sl_kw kw, const char *what)
{
        if (!at_kw(p, kw))
                return fail(p, p->tok.pos, "expected %s, found %s", what, found(p));
        return next(p);
}

static bool kw_reserved(enum sl_kw kw)
{
        switch (kw) {
        case SL_KW_AND:
        case SL_KW_AS:
        case SL_KW_BY:
        case SL_KW_CASE:
        case SL_KW_CAST:
        case SL_KW_CREATE:
        case SL_KW_ELSE:
        case SL_KW_EMIT:
        case SL_KW_END:
        case SL_KW_FALSE:
        case SL_KW_FROM:
        case SL_KW_GROUP:
        case SL_KW_HAVING:
        case SL_KW_IS:
        case SL_KW_NOT:
        case SL_KW_NULL:
        case SL_KW_OR:
        case SL_KW_SELECT:
        case SL_KW_SET:
        case SL_KW_THEN:
        case SL_KW_TRUE:
        case SL_KW_WHEN:
        case SL_KW_WHERE:
        case SL_KW_WINDOW:
        case SL_KW_WITH:
                return true;
        default:
                return false;
        }
}

/* Whether the current token can be a name: see the top of the file. */
static bool at_name(const struct sl_parser *p)
{
        return p->tok.kind == SL_TOK_IDENT ||
               (p->tok.kind == SL_TOK_KEYWORD && !kw_reserved(p->tok.kw));
}

/* Consumes a name into *name (arena, as written) and its position. */
static int take_name(struct sl_parser *p, const char **name, struct sl_pos *pos,
                     const char *what)
{
        if (!at_name(p)) {
                if (p->tok.kind == SL_TOK_KEYWORD)
                        return fail(p, p->tok.pos,
                                    "expected %s, found keyword %s (write it in backticks to use it as a name)",
                                    what, found(p));
                return fail(p, p->tok.pos, "expected %s, found %s", what, found(p));
        }
        *name = p->tok.kind == SL_TOK_IDENT ? p->tok.str : dup_name(p, p->tok.text, p->tok.len);
        if (!*name)
                return -ENOMEM;
        if (pos)
                *pos = p->tok.pos;
        return next(p);
}

/* True if tok is a bare (not backticked) word spelling w, in any case. */
static bool word_is(const struct sl_token *tok, const char *w)
{
        size_t n = strlen(w);
        if (tok->kind != SL_TOK_IDENT || tok->quoted || tok->len != n)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = tok->text[i];
                if (c >= 'a' && c <= 'z')
                        c = (char)(c - 'a' + 'A');
                if (c != w[i])
                        return false;
        }
        return true;
}

/* ---- expressions ------------------------------------------------------- */

/*
 * Every parse function below returns the tree (NULL after an error) and
 * its height in *h (a leaf is 1).
 */
static struct sl_expr *parse_or(struct sl_parser *p, uint32_t *h);

/* Counts one level of parser recursion; paired with leave(). */
static int enter(struct sl_parser *p)
{
        if (++p->depth > SL_SQL_MAX_DEPTH)
                return fail(p, p->tok.pos, "expression nested too deeply");
        return 0;
}

static void leave(struct sl_parser *p)
{
        p->depth--;
}

static struct sl_expr *new_expr(struct sl_parser *p, enum sl_expr_kind kind, struct sl_pos pos)
{
        struct sl_expr *e = alloc(p, sizeof(*e));
        if (!e)
                return NULL;
        memset(e, 0, sizeof(*e));
        e->kind = kind;
        e->pos = pos;
        return e;
}

/* Checks the height of a node whose tallest child has height hc. */
static int check_height(struct sl_parser *p, uint32_t hc, uint32_t *h, struct sl_pos at_pos)
{
        *h = hc + 1;
        if (*h > SL_SQL_MAX_DEPTH)
                return fail(p, at_pos, "expression nested too deeply");
        return 0;
}

/*
 * A node with one or two parsed children.  pos is its first character
 * (ast.h): a prefix operator's own, otherwise its first child's.
 */
static struct sl_expr *new_op(struct sl_parser *p, enum sl_expr_kind kind, enum sl_op op,
                              struct sl_pos pos, struct sl_expr *a, struct sl_expr *b)
{
        struct sl_expr *e = new_expr(p, kind, pos);
        if (!e)
                return NULL;
        e->op = op;
        e->nargs = b ? 2 : 1;
        e->args = alloc(p, e->nargs * sizeof(*e->args));
        if (!e->args)
                return NULL;
        e->args[0] = a;
        if (b)
                e->args[1] = b;
        return e;
}

static struct sl_expr *binary(struct sl_parser *p, enum sl_op op, struct sl_pos op_pos,
                              struct sl_expr *l, uint32_t hl, struct sl_expr *r, uint32_t hr,
                              uint32_t *h)
{
        if (check_height(p, hl > hr ? hl : hr, h, op_pos))
                return NULL;
        return new_op(p, SL_EX_BINARY, op, l->pos, l, r);
}

/* name '(' [ '*' | expr {',' expr} ] ')' with the cursor on '('. */
static struct sl_expr *parse_call(struct sl_parser *p, const char *name, struct sl_pos pos,
                                  uint32_t *h)
{
        struct sl_pos open = p->tok.pos;
        struct sl_expr *e = new_expr(p, SL_EX_CALL, pos);
        if (!e || enter(p) || next(p))
                return NULL;
        e->name = name;
        uint32_t hmax = 0, cap = 0;
        if (at(p, SL_TOK_STAR)) {
                e->star = true;
                if (next(p))
                        return NULL;
        } else if (!at(p, SL_TOK_RPAREN)) {
                for (;;) {
                        uint32_t ha;
                        struct sl_expr *arg = parse_or(p, &ha);
                        if (!arg)
                                return NULL;
                        if (ha > hmax)
                                hmax = ha;
                        e->args = grow(p, e->args, e->nargs, &cap, sizeof(*e->args));
                        if (!e->args)
                                return NULL;
                        e->args[e->nargs++] = arg;
                        if (!at(p, SL_TOK_COMMA))
                                break;
                        if (next(p))
                                return NULL;
                }
        }
        if (!at(p, SL_TOK_RPAREN)) {
                fail(p, p->tok.pos, "expected %s')' to close the call of %s at %u:%u, found %s",
                     e->nargs ? "',' or " : "", name, open.line, open.col, found(p));
                return NULL;
        }
        leave(p);
        if (check_height(p, hmax, h, pos) || next(p))
                return NULL;
        return e;
}

/* A column (optionally qualified) or a call, with the cursor on a name. */
static struct sl_expr *parse_name(struct sl_parser *p, uint32_t *h)
{
        const char *name;
        struct sl_pos pos;
        if (take_name(p, &name, &pos, "expression"))
                return NULL;
        if (at(p, SL_TOK_LPAREN))
                return parse_call(p, name, pos, h);
        struct sl_expr *e = new_expr(p, SL_EX_COLUMN, pos);
        if (!e)
                return NULL;
        e->name = name;
        if (at(p, SL_TOK_DOT)) {
                e->qualifier = name;
                if (next(p) || take_name(p, &e->name, NULL, "column name after '.'"))
                        return NULL;
        }
        *h = 1;
        return e;
}

static bool lookup_type(const struct sl_token *tok, enum sl_type *type);

/* Parses an expression and appends it to e's arguments, tracking the tallest. */
static int parse_arg(struct sl_parser *p, struct sl_expr *e, uint32_t *cap, uint32_t *hmax)
{
        uint32_t ha;
        struct sl_expr *arg = parse_or(p, &ha);
        if (!arg)
                return -EINVAL;
        if (ha > *hmax)
                *hmax = ha;
        e->args = grow(p, e->args, e->nargs, cap, sizeof(*e->args));
        if (!e->args)
                return -ENOMEM;
        e->args[e->nargs++] = arg;
        return 0;
}

/*
 * CASE [operand] WHEN a THEN b {WHEN ...} [ELSE c] END, with the cursor on
 * CASE.  The arguments are laid out as ast.h says.
 */
static struct sl_expr *parse_case(struct sl_parser *p, uint32_t *h)
{
        struct sl_pos pos = p->tok.pos;
        struct sl_expr *e = new_expr(p, SL_EX_CASE, pos);
        uint32_t hmax = 0, cap = 0;
        if (!e || enter(p) || next(p))
                return NULL;
        if (!at_kw(p, SL_KW_WHEN)) {
                e->has_operand = true;
                if (parse_arg(p, e, &cap, &hmax))
                        return NULL;
                if (!at_kw(p, SL_KW_WHEN)) {
                        fail(p, p->tok.pos, "expected WHEN after the CASE operand, found %s", found(p));
                        return NULL;
                }
        }
        while (at_kw(p, SL_KW_WHEN)) {
                if (next(p) || parse_arg(p, e, &cap, &hmax))
                        return NULL;
                if (!at_kw(p, SL_KW_THEN)) {
                        fail(p, p->tok.pos, "expected THEN after the WHEN condition, found %s", found(p));
                        return NULL;
                }
                if (next(p) || parse_arg(p, e, &cap, &hmax))
                        return NULL;
        }
        if (at_kw(p, SL_KW_ELSE)) {
                e->has_else = true;
                if (next(p) || parse_arg(p, e, &cap, &hmax))
                        return NULL;
                if (!at_kw(p, SL_KW_END)) {
                        fail(p, p->tok.pos, "expected END to close the CASE at %u:%u, found %s",
                             pos.line, pos.col, found(p));
                        return NULL;
                }
        } else if (!at_kw(p, SL_KW_END)) {
                fail(p, p->tok.pos, "expected WHEN, ELSE or END in the CASE at %u:%u, found %s",
                     pos.line, pos.col, found(p));
                return NULL;
        }
        leave(p);
        if (check_height(p, hmax, h, pos) || next(p))
                return NULL;
        return e;
}

/* CAST '(' expr AS type ')' with the cursor on CAST. */
static struct sl_expr *parse_cast(struct sl_parser *p, uint32_t *h)
{
        struct sl_pos pos = p->tok.pos;
        struct sl_expr *e = new_expr(p, SL_EX_CAST, pos);
        uint32_t hmax = 0, cap = 0;
        if (!e || enter(p) || next(p))
                return NULL;
        if (!at(p, SL_TOK_LPAREN)) {
                fail(p, p->tok.pos, "expected '(' after CAST, found %s", found(p));
                return NULL;
        }
        if (next(p) || parse_arg(p, e, &cap, &hmax))
                return NULL;
        if (!at_kw(p, SL_KW_AS)) {
                fail(p, p->tok.pos, "expected AS and a type in CAST, found %s", found(p));
                return NULL;
        }
        if (next(p))
                return NULL;
        if (!lookup_type(&p->tok, &e->cast_to)) {
                fail(p, p->tok.pos,
                     "expected a type after AS in CAST (STRING, VARCHAR, BIGINT, INTEGER, INT, DOUBLE or BOOLEAN), found %s",
                     found(p));
                return NULL;
        }
        if (next(p))
                return NULL;
        if (!at(p, SL_TOK_RPAREN)) {
                fail(p, p->tok.pos, "expected ')' to close the CAST at %u:%u, found %s", pos.line,
                     pos.col, found(p));
                return NULL;
        }
        leave(p);
        if (check_height(p, hmax, h, pos) || next(p))
                return NULL;
        return e;
}

static struct sl_expr *parse_primary(struct sl_parser *p, uint32_t *h)
{
        struct sl_expr *e = NULL;
        struct sl_pos pos = p->tok.pos;
        *h = 1;
        switch (p->tok.kind) {
        case SL_TOK_INT:
                if (p->tok.u > INT64_MAX) {
                        fail(p, pos, "integer literal out of range");
                        return NULL;
                }
                e = new_expr(p, SL_EX_INT, pos);
                if (e)
                        e->u.i = (int64_t)p->tok.u;
                break;
        case SL_TOK_DOUBLE:
                e = new_expr(p, SL_EX_DOUBLE, pos);
                if (e)
                        e->u.d = p->tok.d;
                break;
        case SL_TOK_STRING:
                e = new_expr(p, SL_EX_STRING, pos);
                if (e) {
                        e->u.s.p = p->tok.str;
                        e->u.s.len = p->tok.slen;
                }
                break;
        case SL_TOK_IDENT:
                return parse_name(p, h);
        case SL_TOK_LPAREN: {
                if (enter(p) || next(p))
                        return NULL;
                e = parse_or(p, h);
                if (!e)
                        return NULL;
                leave(p);
                if (!at(p, SL_TOK_RPAREN)) {
                        fail(p, p->tok.pos, "expected ')' to match '(' at %u:%u, found %s",
                             pos.line, pos.col, found(p));
                        return NULL;
                }
                break;
        }
        case SL_TOK_KEYWORD:
                switch (p->tok.kw) {
                case SL_KW_TRUE:
                case SL_KW_FALSE:
                        e = new_expr(p, SL_EX_BOOL, pos);
                        if (e)
                                e->u.b = p->tok.kw == SL_KW_TRUE;
                        break;
                case SL_KW_NULL:
                        e = new_expr(p, SL_EX_NULL, pos);
                        break;
                case SL_KW_WINDOWSTART:
                        e = new_expr(p, SL_EX_WINDOWSTART, pos);
                        break;
                case SL_KW_WINDOWEND:
                        e = new_expr(p, SL_EX_WINDOWEND, pos);
                        break;
                case SL_KW_CASE:
                        return parse_case(p, h);
                case SL_KW_CAST:
                        return parse_cast(p, h);
                default:
                        if (!kw_reserved(p->tok.kw))
                                return parse_name(p, h);
                        fail(p, pos, "expected expression, found %s", found(p));
                        return NULL;
                }
                break;
        default:
                fail(p, pos, "expected expression, found %s", found(p));
                return NULL;
        }
        if (!e || next(p))
                return NULL;
        return e;
}

/*
 * '-' applied directly to a numeric literal is folded into the literal,
 * which is the only way to write INT64_MIN (its magnitude alone does not
 * fit); '-' before anything else is a NEG node.
 */
static struct sl_expr *parse_unary(struct sl_parser *p, uint32_t *h)
{
        if (!at(p, SL_TOK_MINUS))
                return parse_primary(p, h);
        struct sl_pos pos = p->tok.pos;
        if (enter(p) || next(p))
                return NULL;
        struct sl_expr *e;
        if (at(p, SL_TOK_INT)) {
                e = new_expr(p, SL_EX_INT, pos);
                if (!e)
                        return NULL;
                uint64_t u = p->tok.u;
                e->u.i = u == (UINT64_C(1) << 63) ? INT64_MIN : -(int64_t)u;
        } else if (at(p, SL_TOK_DOUBLE)) {
                e = new_expr(p, SL_EX_DOUBLE, pos);
                if (!e)
                        return NULL;
                e->u.d = -p->tok.d;
        } else {
                uint32_t ho;
                struct sl_expr *operand = parse_unary(p, &ho);
                if (!operand)
                        return NULL;
                leave(p);
                if (check_height(p, ho, h, pos))
                        return NULL;
                return new_op(p, SL_EX_UNARY, SL_OP_NEG, pos, operand, NULL);
        }
        leave(p);
        *h = 1;
        if (next(p))
                return NULL;
        return e;
}

static struct sl_expr *parse_mul(struct sl_parser *p, uint32_t *h)
{
        struct sl_expr *l = parse_unary(p, h);
        while (l) {
                enum sl_op op;
                switch (p->tok.kind) {
                case SL_TOK_STAR: op = SL_OP_MUL; break;
                case SL_TOK_SLASH: op = SL_OP_DIV; break;
                case SL_TOK_PERCENT: op = SL_OP_MOD; break;
                default: return l;
                }
                struct sl_pos op_pos = p->tok.pos;
                uint32_t hr;
                if (next(p))
                        return NULL;
                struct sl_expr *r = parse_unary(p, &hr);
                if (!r)
                        return NULL;
                l = binary(p, op, op_pos, l, *h, r, hr, h);
        }
        return NULL;
}

static struct sl_expr *parse_add(struct sl_parser *p, uint32_t *h)
{
        struct sl_expr *l = parse_mul(p, h);
        while (l) {
                enum sl_op op;
                switch (p->tok.kind) {
                case SL_TOK_PLUS: op = SL_OP_ADD; break;
                case SL_TOK_MINUS: op = SL_OP_SUB; break;
                default: return l;
                }
                struct sl_pos op_pos = p->tok.pos;
                uint32_t hr;
                if (next(p))
                        return NULL;
                struct sl_expr *r = parse_mul(p, &hr);
                if (!r)
                        return NULL;
                l = binary(p, op, op_pos, l, *h, r, hr, h);
        }
        return NULL;
}

/* || binds more loosely than + and - (ksqlDB's grammar). */
static struct sl_expr *parse_concat(struct sl_parser *p, uint32_t *h)
{
        struct sl_expr *l = parse_add(p, h);
        while (l && at(p, SL_TOK_CONCAT)) {
                struct sl_pos op_pos = p->tok.pos;
                uint32_t hr;
                if (next(p))
                        return NULL;
                struct sl_expr *r = parse_add(p, &hr);
                if (!r)
                        return NULL;
                l = binary(p, SL_OP_CONCAT, op_pos, l, *h, r, hr, h);
        }
        return l;
}

static enum sl_op comparison_at(const struct sl_parser *p)
{
        switch (p->tok.kind) {
        case SL_TOK_EQ: return SL_OP_EQ;
        case SL_TOK_NE: return SL_OP_NE;
        case SL_TOK_LT: return SL_OP_LT;
        case SL_TOK_LE: return SL_OP_LE;
        case SL_TOK_GT: return SL_OP_GT;
        case SL_TOK_GE: return SL_OP_GE;
        default: return SL_OP_NONE;
        }
}

/* Comparisons and IS [NOT] NULL do not associate: a < b < c is an error. */
static struct sl_expr *parse_comparison(struct sl_parser *p, uint32_t *h)
{
        struct sl_expr *l = parse_concat(p, h);
        if (!l)
                return NULL;
        struct sl_pos op_pos = p->tok.pos;
        enum sl_op op = comparison_at(p);
        struct sl_expr *e;
        if (op != SL_OP_NONE) {
                uint32_t hr;
                if (next(p))
                        return NULL;
                struct sl_expr *r = parse_concat(p, &hr);
                if (!r)
                        return NULL;
                e = binary(p, op, op_pos, l, *h, r, hr, h);
        } else if (at_kw(p, SL_KW_IS)) {
                if (next(p))
                        return NULL;
                bool negated = at_kw(p, SL_KW_NOT);
                if (negated && next(p))
                        return NULL;
                if (!at_kw(p, SL_KW_NULL)) {
                        fail(p, p->tok.pos, "expected %s, found %s",
                             negated ? "NULL after IS NOT" : "NULL or NOT NULL after IS", found(p));
                        return NULL;
                }
                if (next(p) || check_height(p, *h, h, op_pos))
                        return NULL;
                e = new_op(p, SL_EX_IS_NULL, SL_OP_NONE, l->pos, l, NULL);
                if (e)
                        e->negated = negated;
        } else {
                return l;
        }
        if (e && (comparison_at(p) != SL_OP_NONE || at_kw(p, SL_KW_IS))) {
                fail(p, p->tok.pos,
                     "comparisons do not chain: found %s after a comparison (use AND or parentheses)",
                     found(p));
                return NULL;
        }
        return e;
}

static struct sl_expr *parse_not(struct sl_parser *p, uint32_t *h)
{
        if (!at_kw(p, SL_KW_NOT))
                return parse_comparison(p, h);
        struct sl_pos pos = p->tok.pos;
        uint32_t ho;
        if (enter(p) || next(p))
                return NULL;
        struct sl_expr *operand = parse_not(p, &ho);
        if (!operand)
                return NULL;
        leave(p);
        if (check_height(p, ho, h, pos))
                return NULL;
        struct sl_expr *e = new_op(p, SL_EX_UNARY, SL_OP_NOT, pos, operand, NULL);
        return e;
}

static struct sl_expr *parse_and(struct sl_parser *p, uint32_t *h)
{
        struct sl_expr *l = parse_not(p, h);
        while (l && at_kw(p, SL_KW_AND)) {
                struct sl_pos op_pos = p->tok.pos;
                uint32_t hr;
                if (next(p))
                        return NULL;
                struct sl_expr *r = parse_not(p, &hr);
                if (!r)
                        return NULL;
                l = binary(p, SL_OP_AND, op_pos, l, *h, r, hr, h);
        }
        return l;
}

static struct sl_expr *parse_or(struct sl_parser *p, uint32_t *h)
{
        struct sl_expr *l = parse_and(p, h);
        while (l && at_kw(p, SL_KW_OR)) {
                struct sl_pos op_pos = p->tok.pos;
                uint32_t hr;
                if (next(p))
                        return NULL;
                struct sl_expr *r = parse_and(p, &hr);
                if (!r)
                        return NULL;
                l = binary(p, SL_OP_OR, op_pos, l, *h, r, hr, h);
        }
        return l;
}

static struct sl_expr *parse_expr(struct sl_parser *p)
{
        uint32_t h;
        return parse_or(p, &h);
}

/* ---- CREATE ... (columns) WITH (props) --------------------------------- */

/* The type a bare word spells (column declarations and CAST). */
static bool lookup_type(const struct sl_token *tok, enum sl_type *type)
{
        static const struct {
                const char *name;
                enum sl_type type;
        } types[] = {
                { "STRING", SL_T_STRING },   { "VARCHAR", SL_T_STRING }, { "BIGINT", SL_T_BIGINT },
                { "INTEGER", SL_T_INT },     { "INT", SL_T_INT },        { "DOUBLE", SL_T_DOUBLE },
                { "BOOLEAN", SL_T_BOOL },
        };
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
                if (word_is(tok, types[i].name)) {
                        *type = types[i].type;
                        return true;
                }
        }
        return false;
}

static int parse_type(struct sl_parser *p, enum sl_type *type, const char *col)
{
        if (p->tok.kind != SL_TOK_IDENT || p->tok.quoted)
                return fail(p, p->tok.pos, "expected type after column name '%.32s', found %s", col,
                            found(p));
        if (lookup_type(&p->tok, type))
                return next(p);
        return fail(p, p->tok.pos,
                    "unknown type %s (expected STRING, BIGINT, INTEGER, DOUBLE or BOOLEAN)", found(p));
}

/* '(' name TYPE [KEY | PRIMARY KEY] {',' ...} ')' with the cursor on '('. */
static int parse_columns(struct sl_parser *p, struct sl_stmt *st)
{
        uint32_t cap = 0;
        int rc = next(p);
        while (!rc) {
                struct sl_column_def col = { 0 };
                if ((rc = take_name(p, &col.name, &col.pos, "column name")) ||
                    (rc = parse_type(p, &col.type, col.name)))
                        break;
                if (at_kw(p, SL_KW_KEY)) {
                        col.key = true;
                        rc = next(p);
                } else if (at_kw(p, SL_KW_PRIMARY)) {
                        col.key = true;
                        col.primary = true;
                        if (!(rc = next(p)))
                                rc = expect_kw(p, SL_KW_KEY, "KEY after PRIMARY");
                }
                if (rc)
                        break;
                st->cols = grow(p, st->cols, st->ncols, &cap, sizeof(*st->cols));
                if (!st->cols)
                        return -ENOMEM;
                st->cols[st->ncols++] = col;
                if (at(p, SL_TOK_RPAREN))
                        return next(p);
                rc = expect(p, SL_TOK_COMMA, "',' or ')' after column definition");
        }
        return rc;
}

static int parse_props(struct sl_parser *p, struct sl_stmt *st)
{
        uint32_t cap = 0;
        int rc = next(p);
        if (!rc)
                rc = expect(p, SL_TOK_LPAREN, "'(' after WITH");
        while (!rc) {
                struct sl_prop prop = { 0 };
                if ((rc = take_name(p, &prop.name, &prop.pos, "property name")) ||
                    (rc = expect(p, SL_TOK_EQ, "'=' after property name")))
                        break;
                prop.value_pos = p->tok.pos;
                bool neg = at(p, SL_TOK_MINUS);
                if (neg && (rc = next(p)))
                        break;
                if (at(p, SL_TOK_STRING) && !neg) {
                        prop.is_string = true;
                        prop.str = p->tok.str;
                } else if (at(p, SL_TOK_INT)) {
                        uint64_t u = p->tok.u;
                        if (!neg && u > INT64_MAX)
                                return fail(p, p->tok.pos, "integer literal out of range");
                        prop.num = !neg ? (int64_t)u
                                        : u == (UINT64_C(1) << 63) ? INT64_MIN : -(int64_t)u;
                } else {
                        return fail(p, p->tok.pos,
                                    "expected string or integer value for property '%.32s', found %s",
                                    prop.name, found(p));
                }
                if ((rc = next(p)))
                        break;
                st->props = grow(p, st->props, st->nprops, &cap, sizeof(*st->props));
                if (!st->props)
                        return -ENOMEM;
                st->props[st->nprops++] = prop;
                if (at(p, SL_TOK_RPAREN))
                        return next(p);
                rc = expect(p, SL_TOK_COMMA, "',' or ')' after property");
        }
        return rc;
}

/* ---- SELECT ------------------------------------------------------------ */

/* n unit, in milliseconds; what names the clause for messages. */
static int parse_duration(struct sl_parser *p, const char *what, int64_t *ms,
                          struct sl_pos *num_pos)
{
        static const struct {
                const char *name;
                int64_t ms;
        } units[] = {
                { "MILLISECOND", 1 },       { "MILLISECONDS", 1 },     { "SECOND", 1000 },
                { "SECONDS", 1000 },        { "MINUTE", 60000 },       { "MINUTES", 60000 },
                { "HOUR", 3600000 },        { "HOURS", 3600000 },      { "DAY", 86400000 },
                { "DAYS", 86400000 },
        };
        *num_pos = p->tok.pos;
        if (!at(p, SL_TOK_INT))
                return fail(p, p->tok.pos, "expected integer duration after %s, found %s", what,
                            found(p));
        uint64_t n = p->tok.u;
        int rc = next(p);
        if (rc)
                return rc;
        if (p->tok.kind != SL_TOK_IDENT || p->tok.quoted)
                return fail(p, p->tok.pos,
                            "expected time unit (MILLISECONDS, SECONDS, MINUTES, HOURS or DAYS) after %s %llu, found %s",
                            what, (unsigned long long)n, found(p));
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                if (word_is(&p->tok, units[i].name)) {
                        if (n > (uint64_t)(INT64_MAX / units[i].ms))
                                return fail(p, *num_pos, "duration out of range");
                        *ms = (int64_t)n * units[i].ms;
                        return next(p);
                }
        }
        return fail(p, p->tok.pos,
                    "unknown time unit %s (expected MILLISECONDS, SECONDS, MINUTES, HOURS or DAYS)",
                    found(p));
}

/* Optional ", GRACE PERIOD n unit" of every window kind. */
static int parse_grace(struct sl_parser *p, struct sl_window_def *w)
{
        struct sl_pos num_pos;
        int rc;
        if (!at(p, SL_TOK_COMMA))
                return 0;
        if ((rc = next(p)))
                return rc;
        if (at_kw(p, SL_KW_ADVANCE))
                return fail(p, p->tok.pos, "ADVANCE BY is only allowed in a HOPPING window");
        if ((rc = expect_kw(p, SL_KW_GRACE, "GRACE PERIOD")) ||
            (rc = expect_kw(p, SL_KW_PERIOD, "PERIOD after GRACE")) ||
            (rc = parse_duration(p, "GRACE PERIOD", &w->grace_ms, &num_pos)))
                return rc;
        w->has_grace = true;
        return 0;
}

/*
 * SESSION (gap unit [, GRACE PERIOD n unit]): ksqlDB writes the gap bare,
 * without SIZE.  The gap goes into size_ms.  p is at SESSION.
 */
static int parse_session(struct sl_parser *p, struct sl_window_def *w)
{
        struct sl_pos num_pos;
        int rc;
        w->kind = SL_WIN_SESSION;
        if ((rc = next(p)) || (rc = expect(p, SL_TOK_LPAREN, "'(' after SESSION")))
                return rc;
        if (at_kw(p, SL_KW_SIZE))
                return fail(p, p->tok.pos,
                            "a SESSION window takes its inactivity gap without SIZE: "
                            "WINDOW SESSION (30 MINUTES)");
        if (at_kw(p, SL_KW_ADVANCE))
                return fail(p, p->tok.pos, "ADVANCE BY is only allowed in a HOPPING window");
        if ((rc = parse_duration(p, "SESSION", &w->size_ms, &num_pos)))
                return rc;
        if (w->size_ms == 0)
                return fail(p, num_pos, "a SESSION window's gap must be greater than 0");
        if ((rc = parse_grace(p, w)))
                return rc;
        if (!at(p, SL_TOK_RPAREN))
                return fail(p, p->tok.pos, "expected %s')' to close the SESSION window, found %s",
                            w->has_grace ? "" : "',' or ", found(p));
        return next(p);
}

static int parse_window(struct sl_parser *p, struct sl_window_def *w)
{
        struct sl_pos num_pos;
        int rc;
        w->pos = p->tok.pos;
        if ((rc = next(p)))
                return rc;
        if (at_kw(p, SL_KW_TUMBLING))
                w->kind = SL_WIN_TUMBLING;
        else if (at_kw(p, SL_KW_HOPPING))
                w->kind = SL_WIN_HOPPING;
        else if (word_is(&p->tok, "SESSION"))
                return parse_session(p, w);
        else
                return fail(p, p->tok.pos, "expected TUMBLING, HOPPING or SESSION after WINDOW, found %s",
                            found(p));
        const char *kind = w->kind == SL_WIN_TUMBLING ? "TUMBLING" : "HOPPING";
        if ((rc = next(p)) || (rc = expect(p, SL_TOK_LPAREN, w->kind == SL_WIN_TUMBLING
                                                                  ? "'(' after TUMBLING"
                                                                  : "'(' after HOPPING")) ||
            (rc = expect_kw(p, SL_KW_SIZE, "SIZE")) ||
            (rc = parse_duration(p, "SIZE", &w->size_ms, &num_pos)))
                return rc;
        if (w->size_ms == 0)
                return fail(p, num_pos, "window SIZE must be greater than 0");
        if (w->kind == SL_WIN_HOPPING) {
                if ((rc = expect(p, SL_TOK_COMMA, "',' and ADVANCE BY after SIZE of a HOPPING window")) ||
                    (rc = expect_kw(p, SL_KW_ADVANCE, "ADVANCE BY")) ||
                    (rc = expect_kw(p, SL_KW_BY, "BY after ADVANCE")) ||
                    (rc = parse_duration(p, "ADVANCE BY", &w->advance_ms, &num_pos)))
                        return rc;
                if (w->advance_ms == 0)
                        return fail(p, num_pos, "ADVANCE BY must be greater than 0");
                if (w->advance_ms > w->size_ms)
                        return fail(p, num_pos, "ADVANCE BY must not be greater than SIZE");
        }
        if ((rc = parse_grace(p, w)))
                return rc;
        if (!at(p, SL_TOK_RPAREN))
                return fail(p, p->tok.pos, "expected %s')' to close the %s window, found %s",
                            w->has_grace ? "" : "',' or ", kind, found(p));
        return next(p);
}

static int parse_items(struct sl_parser *p, struct sl_select *sel)
{
        uint32_t cap = 0;
        for (;;) {
                struct sl_select_item item = { 0 };
                item.pos = p->tok.pos;
                if (at(p, SL_TOK_STAR))
                        return fail(p, p->tok.pos, "SELECT * is not supported: list the columns");
                item.expr = parse_expr(p);
                if (!item.expr)
                        return -EINVAL;
                int rc = 0;
                if (at_kw(p, SL_KW_AS)) {
                        if ((rc = next(p)) || (rc = take_name(p, &item.alias, NULL, "alias after AS")))
                                return rc;
                } else if (at_name(p)) {
                        /* ksqlDB allows the alias without AS. */
                        if ((rc = take_name(p, &item.alias, NULL, "alias")))
                                return rc;
                }
                sel->items = grow(p, sel->items, sel->nitems, &cap, sizeof(*sel->items));
                if (!sel->items)
                        return -ENOMEM;
                sel->items[sel->nitems++] = item;
                if (at_kw(p, SL_KW_FROM))
                        return 0;
                if ((rc = expect(p, SL_TOK_COMMA, "',' or FROM after select item")))
                        return rc;
        }
}

static int parse_group(struct sl_parser *p, struct sl_select *sel)
{
        uint32_t cap = 0;
        sel->group_pos = p->tok.pos;
        int rc = next(p);
        if (rc || (rc = expect_kw(p, SL_KW_BY, "BY after GROUP")))
                return rc;
        for (;;) {
                struct sl_expr *e = parse_expr(p);
                if (!e)
                        return -EINVAL;
                sel->group = grow(p, sel->group, sel->ngroup, &cap, sizeof(*sel->group));
                if (!sel->group)
                        return -ENOMEM;
                sel->group[sel->ngroup++] = e;
                if (!at(p, SL_TOK_COMMA))
                        return 0;
                if ((rc = next(p)))
                        return rc;
        }
}

static int parse_emit(struct sl_parser *p, struct sl_select *sel, bool table)
{
        sel->emit_pos = p->tok.pos;
        int rc = next(p);
        if (rc)
                return rc;
        if (at_kw(p, SL_KW_CHANGES)) {
                sel->emit = SL_EMIT_CHANGES;
        } else if (at_kw(p, SL_KW_FINAL)) {
                if (!table)
                        return fail(p, p->tok.pos,
                                    "EMIT FINAL is only allowed in CREATE TABLE ... AS SELECT");
                sel->emit = SL_EMIT_FINAL;
        } else {
                return fail(p, p->tok.pos, "expected EMIT CHANGES or EMIT FINAL, found %s", found(p));
        }
        return next(p);
}

/* Clauses after FROM, in the only order the grammar allows. */
enum sl_clause {
        CL_NONE = 0,
        CL_WINDOW,
        CL_WHERE,
        CL_GROUP,
        CL_HAVING,
        CL_EMIT,
        CL_COUNT,
};

static const char *const clause_names[CL_COUNT] = {
        [CL_WINDOW] = "WINDOW", [CL_WHERE] = "WHERE", [CL_GROUP] = "GROUP BY",
        [CL_HAVING] = "HAVING", [CL_EMIT] = "EMIT",
};

static enum sl_clause clause_at(const struct sl_parser *p)
{
        if (p->tok.kind != SL_TOK_KEYWORD)
                return CL_NONE;
        switch (p->tok.kw) {
        case SL_KW_WINDOW: return CL_WINDOW;
        case SL_KW_WHERE: return CL_WHERE;
        case SL_KW_GROUP: return CL_GROUP;
        case SL_KW_HAVING: return CL_HAVING;
        case SL_KW_EMIT: return CL_EMIT;
        default: return CL_NONE;
        }
}

static bool clause_allowed(enum sl_clause c, bool table)
{
        return table || c == CL_WHERE || c == CL_EMIT;
}

/* "expected WHERE, EMIT, ';' or end of input, found ..." after clause last. */
static int fail_after_clauses(struct sl_parser *p, enum sl_clause last, bool table)
{
        char list[96] = "";
        size_t n = 0;
        for (unsigned c = (unsigned)last + 1; c < CL_COUNT; c++) {
                if (clause_allowed((enum sl_clause)c, table))
                        n += (size_t)snprintf(list + n, sizeof(list) - n, "%s, ", clause_names[c]);
        }
        return fail(p, p->tok.pos, "expected %s';' or end of input, found %s", list, found(p));
}

/*
 * JOIN words are matched by spelling, not as keywords (like type names),
 * so that columns called `left` or `on` keep working and the keyword
 * table stays as it is; an alias is any other bare name.
 */
static bool at_join_word(const struct sl_parser *p)
{
        return word_is(&p->tok, "JOIN") || word_is(&p->tok, "LEFT") ||
               word_is(&p->tok, "INNER") || word_is(&p->tok, "ON") ||
               word_is(&p->tok, "RIGHT") || word_is(&p->tok, "FULL") ||
               word_is(&p->tok, "OUTER") || word_is(&p->tok, "WITHIN");
}

static int take_alias(struct sl_parser *p, const char **alias, struct sl_pos *pos)
{
        if (at_kw(p, SL_KW_AS)) {
                int rc = next(p);
                if (rc)
                        return rc;
                return take_name(p, alias, pos, "alias after AS");
        }
        if (at_name(p) && !at_join_word(p))
                return take_name(p, alias, pos, "alias");
        return 0;
}

/* After FROM name: [alias] [[INNER | LEFT [OUTER]] JOIN name [alias] ON expr]. */
static int parse_from_rest(struct sl_parser *p, struct sl_select *sel)
{
        struct sl_join_def *j = &sel->join;
        int rc = take_alias(p, &sel->from_alias, &sel->from_alias_pos);
        if (rc)
                return rc;
        if (word_is(&p->tok, "RIGHT") || word_is(&p->tok, "FULL"))
                return fail(p, p->tok.pos,
                            "%s JOIN is not supported: a stream joins a table with [INNER] JOIN or LEFT [OUTER] JOIN",
                            word_is(&p->tok, "RIGHT") ? "RIGHT" : "FULL");
        if (!word_is(&p->tok, "JOIN") && !word_is(&p->tok, "LEFT") && !word_is(&p->tok, "INNER"))
                return 0;
        j->present = true;
        j->pos = p->tok.pos;
        if (word_is(&p->tok, "LEFT")) {
                j->left = true;
                if ((rc = next(p)))
                        return rc;
                if (word_is(&p->tok, "OUTER") && (rc = next(p)))
                        return rc;
        } else if (word_is(&p->tok, "INNER") && (rc = next(p))) {
                return rc;
        }
        if (!word_is(&p->tok, "JOIN"))
                return fail(p, p->tok.pos, "expected JOIN, found %s", found(p));
        if ((rc = next(p)))
                return rc;
        if (at_join_word(p))
                return fail(p, p->tok.pos, "expected table name after JOIN, found %s", found(p));
        if ((rc = take_name(p, &j->table, &j->table_pos, "table name after JOIN")) ||
            (rc = take_alias(p, &j->alias, &j->alias_pos)))
                return rc;
        if (!word_is(&p->tok, "ON"))
                return fail(p, p->tok.pos, "expected ON after the joined table, found %s", found(p));
        if ((rc = next(p)))
                return rc;
        if (!(j->on = parse_expr(p)))
                return -EINVAL;
        if (word_is(&p->tok, "JOIN") || word_is(&p->tok, "LEFT") || word_is(&p->tok, "INNER"))
                return fail(p, p->tok.pos, "only one JOIN per query is supported");
        return 0;
}

/* SELECT ... with the cursor on SELECT; table: CREATE TABLE (may aggregate). */
static int parse_select(struct sl_parser *p, struct sl_select **out, bool table)
{
        struct sl_select *sel = alloc(p, sizeof(*sel));
        if (!sel)
                return -ENOMEM;
        memset(sel, 0, sizeof(*sel));
        *out = sel;
        sel->pos = p->tok.pos;
        int rc = next(p);
        if (rc || (rc = parse_items(p, sel)) || (rc = next(p)) ||
            (rc = take_name(p, &sel->from, &sel->from_pos, "source name after FROM")) ||
            (rc = parse_from_rest(p, sel)))
                return rc;
        enum sl_clause last = CL_NONE;
        for (;;) {
                enum sl_clause c = clause_at(p);
                if (c == CL_NONE)
                        break;
                if (c == last)
                        return fail(p, p->tok.pos, "duplicate %s clause", clause_names[c]);
                if (c < last)
                        return fail(p, p->tok.pos, "%s must come before %s", clause_names[c],
                                    clause_names[last]);
                if (!clause_allowed(c, table))
                        return fail(p, p->tok.pos,
                                    "%s is only allowed in CREATE TABLE ... AS SELECT (a stream does not aggregate)",
                                    clause_names[c]);
                switch (c) {
                case CL_WINDOW:
                        rc = parse_window(p, &sel->window);
                        break;
                case CL_WHERE:
                        rc = next(p);
                        if (!rc && !(sel->where = parse_expr(p)))
                                rc = -EINVAL;
                        break;
                case CL_GROUP:
                        rc = parse_group(p, sel);
                        break;
                case CL_HAVING:
                        rc = next(p);
                        if (!rc && !(sel->having = parse_expr(p)))
                                rc = -EINVAL;
                        break;
                case CL_EMIT:
                        rc = parse_emit(p, sel, table);
                        break;
                default:
                        assert(0);
                }
                if (rc)
                        return rc;
                last = c;
        }
        /* A following statement is left to the script loop's "missing ';'". */
        if (!at(p, SL_TOK_SEMI) && !at(p, SL_TOK_EOF) && !at_kw(p, SL_KW_CREATE) &&
            !at_kw(p, SL_KW_SET))
                return fail_after_clauses(p, last, table);
        return 0;
}

/* ---- statements -------------------------------------------------------- */

static int parse_create(struct sl_parser *p, struct sl_stmt *st)
{
        int rc = next(p);
        if (rc)
                return rc;
        if (at_kw(p, SL_KW_OR)) {
                if ((rc = next(p)) || (rc = expect_kw(p, SL_KW_REPLACE, "REPLACE after CREATE OR")))
                        return rc;
                st->or_replace = true;
        }
        bool table = at_kw(p, SL_KW_TABLE);
        if (!table && !at_kw(p, SL_KW_STREAM))
                return fail(p, p->tok.pos, "expected STREAM or TABLE after CREATE, found %s", found(p));
        if ((rc = next(p)) ||
            (rc = take_name(p, &st->name, &st->name_pos, table ? "table name" : "stream name")))
                return rc;
        if (at(p, SL_TOK_LPAREN)) {
                st->kind = table ? SL_ST_CREATE_TABLE : SL_ST_CREATE_STREAM;
                if ((rc = parse_columns(p, st)))
                        return rc;
                if (at_kw(p, SL_KW_WITH))
                        return parse_props(p, st);
                return 0;
        }
        bool with = at_kw(p, SL_KW_WITH);
        if (with && (rc = parse_props(p, st)))
                return rc;
        if (!at_kw(p, SL_KW_AS))
                return fail(p, p->tok.pos, "expected %s, found %s",
                            with ? "AS SELECT after WITH (...)"
                            : table ? "WITH or AS SELECT after table name"
                                    : "'(' column list, WITH or AS SELECT after stream name",
                            found(p));
        st->kind = table ? SL_ST_CREATE_TABLE_AS : SL_ST_CREATE_STREAM_AS;
        if ((rc = next(p)))
                return rc;
        if (!at_kw(p, SL_KW_SELECT))
                return fail(p, p->tok.pos, "expected SELECT after AS, found %s", found(p));
        return parse_select(p, &st->select, table);
}

static int parse_set(struct sl_parser *p, struct sl_stmt *st)
{
        st->kind = SL_ST_SET;
        int rc = next(p);
        if (rc)
                return rc;
        if (!at(p, SL_TOK_STRING))
                return fail(p, p->tok.pos, "expected quoted property name after SET, found %s", found(p));
        st->set_key = p->tok.str;
        if ((rc = next(p)) || (rc = expect(p, SL_TOK_EQ, "'=' after SET property name")))
                return rc;
        if (!at(p, SL_TOK_STRING))
                return fail(p, p->tok.pos, "expected quoted value after '=', found %s", found(p));
        st->set_value = p->tok.str;
        st->set_value_pos = p->tok.pos;
        return next(p);
}

static int parse_stmt(struct sl_parser *p, struct sl_stmt *st)
{
        memset(st, 0, sizeof(*st));
        st->pos = p->tok.pos;
        if (at_kw(p, SL_KW_CREATE))
                return parse_create(p, st);
        if (at_kw(p, SL_KW_SET))
                return parse_set(p, st);
        if (at_kw(p, SL_KW_SELECT))
                return fail(p, p->tok.pos,
                            "a bare SELECT is not supported: use CREATE STREAM or CREATE TABLE ... AS SELECT");
        return fail(p, p->tok.pos, "expected CREATE or SET at start of statement, found %s", found(p));
}

static int parse_script(struct sl_parser *p, struct sl_script *script)
{
        uint32_t cap = 0;
        int rc = next(p);
        while (!rc) {
                /* Empty statements (";;") are harmless; skip them. */
                while (at(p, SL_TOK_SEMI)) {
                        if ((rc = next(p)))
                                return rc;
                }
                if (at(p, SL_TOK_EOF))
                        return 0;
                script->stmts = grow(p, script->stmts, script->nstmts, &cap, sizeof(*script->stmts));
                if (!script->stmts)
                        return -ENOMEM;
                if ((rc = parse_stmt(p, &script->stmts[script->nstmts++])))
                        return rc;
                if (at(p, SL_TOK_SEMI))
                        rc = next(p);
                else if (at_kw(p, SL_KW_CREATE) || at_kw(p, SL_KW_SET))
                        rc = fail(p, p->tok.pos, "missing ';' between statements");
                else if (!at(p, SL_TOK_EOF))
                        rc = fail(p, p->tok.pos, "expected ';' or end of input after statement, found %s",
                                  found(p));
        }
        return rc;
}

struct sl_script *sl_sql_parse(const char *src, size_t len, struct sl_sql_error *err)
{
        assert(err && (src || len == 0));
        memset(err, 0, sizeof(*err));
        struct sl_parser p = { .err = err };
        struct sl_script *script = NULL;
        if (len >= UINT32_MAX) {
                err->pos = (struct sl_pos){ 1, 1 };
                snprintf(err->msg, sizeof(err->msg), "script too large");
                return NULL;
        }
        p.arena = sl_arena_new(16384);
        if (!p.arena)
                goto oom;
        script = sl_arena_alloc(p.arena, sizeof(*script));
        if (!script)
                goto oom;
        memset(script, 0, sizeof(*script));
        script->arena = p.arena;
        sl_lexer_init(&p.lx, src, len, p.arena);
        if (parse_script(&p, script))
                goto fail;
        return script;
oom:
        err->pos = (struct sl_pos){ 1, 1 };
        snprintf(err->msg, sizeof(err->msg), "out of memory");
fail:
        sl_arena_destroy(p.arena);
        return NULL;
}

void sl_script_free(struct sl_script *script)
{
        /* The script lives in its own arena: read the pointer first. */
        if (script)
                sl_arena_destroy(script->arena);
}
