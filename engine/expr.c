/*
 * expr.c - compiler from the SQL expression tree to a typed stack program,
 * and its interpreter.
 *
 * Compilation is a post-order walk: each node checks its operand types,
 * inserts int-to-double conversions where SQL's numeric promotion asks for
 * them, and emits one instruction specialised to the operand types (ADD_I,
 * ADD_D, LT_S, ...), so the interpreter never inspects a type tag except
 * for NULL.  The maximum stack depth is computed at compile time and
 * bounded by SL_PROG_MAX_STACK so evaluation needs no allocation.
 *
 * Scalar functions are compiled here, by name, before the planner's
 * resolver is asked (it only knows columns, window bounds and aggregates).
 * CASE, COALESCE and IFNULL evaluate lazily with forward jumps: only the
 * branch taken runs.  Their branches may mix INTEGER, BIGINT and DOUBLE;
 * the common type is known only after the last branch, so each integer
 * branch leaves a NOP behind its value that becomes an I2D once it is.
 * FORMAT's format string must be a literal: it is parsed here into
 * literal pieces and conversions, and its argument count and types are
 * checked like any other type error.
 *
 * Strings built at run time go into a thread-local scratch block
 * (SL_EXPR_SCRATCH bytes, no allocation) that keeps no bookkeeping: the
 * strings in use are exactly those the stack entries point to.  A
 * building instruction writes its result past all of them, then slides it
 * down to the end of the strings of the entries below its operands:
 * everything above that is operands and dead intermediates.  So the space
 * in use is bounded by the strings live on the stack, a chain of nested
 * CONCATs stays linear, and what an earlier evaluation left (its result,
 * which the caller has used by now) is simply overwritten.  A result over
 * SL_EXPR_STR_MAX bytes, or one that does not fit, is NULL and counted in
 * the program (a relaxed atomic: it is only a statistic, and only touched
 * when it happens).
 *
 * Number text follows Java, as ksqlDB prints through it: CAST(DOUBLE AS
 * STRING) is Double.toString (1.0E7, 0.001, NaN), FORMAT's %f rounds the
 * shortest decimal of the double half-up as java.util.Formatter does, and
 * ROUND(x, d) rounds that same decimal as ksqlDB's BigDecimal code does.
 *
 * Called by the planner (plan.c) at start; sl_prog_eval runs on the
 * dispatcher and worker threads.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/agg.h"
#include "engine/expr.h"
#include "engine/json_encode.h"

#define SL_PROG_MAX_STACK 64
#define MAX_INSN UINT16_MAX /* jump targets and constant indices are 16-bit */
#define CONCAT_CHUNK 32     /* a longer || chain is concatenated in parts */
#define FMT_MAX_WIDTH 255
#define FMT_MAX_PREC 30

/*
 * Every instruction but LOAD and CONST finds at least one value on the
 * stack (a FORMAT without arguments is compiled to a constant).
 */
enum op {
        OP_LOAD,  /* push env[a] */
        OP_CONST, /* push consts[a] */
        OP_I2D,   /* convert stack[top - a] from int to double */
        OP_NEG_I,
        OP_NEG_D,
        OP_NOT,
        OP_ADD_I, OP_SUB_I, OP_MUL_I, OP_DIV_I, OP_MOD_I,
        OP_ADD_D, OP_SUB_D, OP_MUL_D, OP_DIV_D, OP_MOD_D,
        OP_CMP_I, /* cmp = comparison (enum sl_op) */
        OP_CMP_D,
        OP_CMP_S,
        OP_CMP_B,
        OP_AND,
        OP_OR,
        OP_IS_NULL,
        OP_IS_NOT_NULL,
        /* Control flow. */
        OP_NOP,   /* an integer branch whose conversion was not needed */
        OP_JMP,   /* go to insn a */
        OP_JNT,   /* pop; go to insn a unless it was TRUE */
        OP_JNN,   /* top not NULL: go to insn a; else pop it */
        OP_DUP,   /* push a copy of the top (simple CASE) */
        OP_POP,
        /* Functions, run out of line (run_func). */
        OP_ABS_I, OP_ABS_D, OP_CEIL_D, OP_FLOOR_D,
        OP_ROUND_D,  /* DOUBLE -> BIGINT as Java's Math.round */
        OP_ROUND_DN, /* (DOUBLE, integer places) -> DOUBLE */
        OP_LEAST_I, OP_LEAST_D, OP_LEAST_S,          /* a operands */
        OP_GREATEST_I, OP_GREATEST_D, OP_GREATEST_S, /* a operands */
        OP_CONCAT, /* a operands; cmp 1: NULL in, NULL out (+); 0: NULL as '' */
        OP_CAST,   /* cmp: enum cast */
        OP_FORMAT, /* fmts[a], with at least one argument */
};

enum cast {
        CAST_L2I, /* BIGINT -> INTEGER: the low 32 bits (Java's intValue) */
        CAST_D2I, /* DOUBLE -> INTEGER: truncated, saturated, NaN 0 (Java) */
        CAST_D2L, /* DOUBLE -> BIGINT: the same in 64 bits */
        CAST_B2S,
        CAST_I2S,
        CAST_D2S, /* Java's Double.toString */
        CAST_S2B, /* 'true' in any case, blanks trimmed: TRUE; else FALSE */
        CAST_S2I, /* Integer.parseInt of the trimmed text, else NULL */
        CAST_S2L, /* Long.parseLong */
        CAST_S2D, /* Double.parseDouble (decimal, NaN, Infinity) */
};

struct insn {
        uint8_t op;
        uint8_t cmp; /* OP_CMP_*: enum sl_op; OP_CAST: enum cast; OP_CONCAT: null mode */
        uint16_t a;
};

/* FORMAT flags, as java.util.Formatter spells them. */
enum {
        FF_MINUS = 1, /* '-': left-justify */
        FF_PLUS = 2,  /* '+': always a sign */
        FF_SPACE = 4, /* ' ': a space for non-negative numbers */
        FF_ZERO = 8,  /* '0': pad numbers with zeros */
        FF_COMMA = 16 /* ',': group integer digits by three */
};

/* A literal piece of the format, then (conv != 0) one conversion. */
struct fmt_piece {
        uint32_t off, len; /* literal bytes in fmt.text */
        char conv;         /* 's', 'd', 'f'; 0 ends the format */
        uint8_t flags;
        uint8_t width;
        uint8_t prec;          /* %f digits after the point */
        uint8_t type;          /* the argument's static type */
};

struct fmt {
        char *text; /* literal bytes, %% and %n decoded */
        uint32_t npiece;
        uint32_t nconv;
        struct fmt_piece *piece;
};

struct sl_prog {
        enum sl_type type;
        uint32_t ninsn;
        uint32_t nconst;
        uint32_t depth;
        uint32_t nfmt;
        struct insn *insn;
        struct sl_value *consts;
        char *strings; /* bytes of string constants */
        struct fmt *fmts;
        _Atomic uint64_t overflows; /* see the file comment */
};

struct compiler {
        struct sl_prog *p;
        uint32_t cap_insn, cap_const;
        uint32_t sp, max_sp;
        sl_expr_resolve_fn resolve;
        void *ctx;
        struct sl_expr_error *err;
        uint32_t depth;
        const struct sl_expr *root;
        /* String constants: bytes in sbuf, consts[k]'s at soff[k] until the
         * program is complete and sbuf stops moving. */
        char *sbuf;
        size_t slen, scap;
        uint32_t *soff;
};

static int fail(struct compiler *c, const struct sl_expr *e, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int fail(struct compiler *c, const struct sl_expr *e, const char *fmt, ...)
{
        va_list ap;
        c->err->pos = e->pos;
        va_start(ap, fmt);
        vsnprintf(c->err->msg, sizeof c->err->msg, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

static int emit(struct compiler *c, enum op op, uint32_t a, uint8_t cmp)
{
        if (c->p->ninsn >= MAX_INSN)
                return fail(c, c->root, "expression too complex");
        if (c->p->ninsn == c->cap_insn) {
                uint32_t cap = c->cap_insn ? c->cap_insn * 2 : 16;
                struct insn *n = realloc(c->p->insn, cap * sizeof *n);
                if (!n)
                        return -ENOMEM;
                c->p->insn = n;
                c->cap_insn = cap;
        }
        c->p->insn[c->p->ninsn++] = (struct insn){.op = op, .a = (uint16_t)a, .cmp = cmp};
        return 0;
}

static int push(struct compiler *c, const struct sl_expr *e)
{
        if (++c->sp > c->max_sp)
                c->max_sp = c->sp;
        if (c->sp > SL_PROG_MAX_STACK)
                return fail(c, e, "expression too complex");
        return 0;
}

/* Adds a constant; a string's bytes are copied.  Returns its index. */
static int add_const(struct compiler *c, const struct sl_expr *e, const struct sl_value *v)
{
        if (c->p->nconst >= MAX_INSN)
                return fail(c, e, "expression too complex");
        if (c->p->nconst == c->cap_const) {
                uint32_t cap = c->cap_const ? c->cap_const * 2 : 8;
                struct sl_value *n = realloc(c->p->consts, cap * sizeof *n);
                if (!n)
                        return -ENOMEM;
                c->p->consts = n;
                uint32_t *o = realloc(c->soff, cap * sizeof *o);
                if (!o)
                        return -ENOMEM;
                c->soff = o;
                c->cap_const = cap;
        }
        if (v->type == SL_T_STRING) {
                size_t len = v->u.s.len;
                if (c->slen + len > c->scap) {
                        size_t cap = c->scap ? c->scap : 64;
                        while (cap < c->slen + len)
                                cap *= 2;
                        char *n = realloc(c->sbuf, cap);
                        if (!n)
                                return -ENOMEM;
                        c->sbuf = n;
                        c->scap = cap;
                }
                if (len)
                        memcpy(c->sbuf + c->slen, v->u.s.p, len);
                c->soff[c->p->nconst] = (uint32_t)c->slen;
                c->slen += len;
        }
        c->p->consts[c->p->nconst] = *v;
        return (int)c->p->nconst++;
}

static int emit_const(struct compiler *c, const struct sl_expr *e, const struct sl_value *v)
{
        int rc = push(c, e), k;
        if (rc)
                return rc;
        if ((k = add_const(c, e, v)) < 0)
                return k;
        return emit(c, OP_CONST, (uint32_t)k, 0);
}

static const char *op_text(enum sl_op op)
{
        switch (op) {
        case SL_OP_NEG: return "-";
        case SL_OP_NOT: return "NOT";
        case SL_OP_ADD: return "+";
        case SL_OP_SUB: return "-";
        case SL_OP_MUL: return "*";
        case SL_OP_DIV: return "/";
        case SL_OP_MOD: return "%";
        case SL_OP_EQ: return "=";
        case SL_OP_NE: return "<>";
        case SL_OP_LT: return "<";
        case SL_OP_LE: return "<=";
        case SL_OP_GT: return ">";
        case SL_OP_GE: return ">=";
        case SL_OP_AND: return "AND";
        case SL_OP_OR: return "OR";
        case SL_OP_CONCAT: return "||";
        case SL_OP_NONE: break;
        }
        return "?";
}

static bool is_int(enum sl_type t)
{
        return sl_type_is_int(t);
}

/*
 * Folds type t into the common type *acc of several branches or
 * arguments: equal types stay, NULL takes the other, numbers widen
 * (INTEGER < BIGINT < DOUBLE).  False if there is no common type.
 */
static bool unify(enum sl_type *acc, enum sl_type t)
{
        enum sl_type a = *acc;
        if (t == SL_T_NULL || a == t)
                return true;
        if (a == SL_T_NULL) {
                *acc = t;
                return true;
        }
        if (sl_type_is_numeric(a) && sl_type_is_numeric(t)) {
                *acc = a == SL_T_DOUBLE || t == SL_T_DOUBLE ? SL_T_DOUBLE : SL_T_BIGINT;
                return true;
        }
        return false;
}

static int compile(struct compiler *c, const struct sl_expr *e,
                   enum sl_type *type);

/*
 * Both operands of a comparison are on the stack (types lt, rt): promotes
 * an integer side to double if the other is one and emits the compare.
 */
static int emit_compare(struct compiler *c, const struct sl_expr *e, enum sl_type lt,
                        enum sl_type rt, enum sl_op op)
{
        /* A NULL literal operand takes the other side's type: the result
         * is NULL whatever the instruction. */
        if (lt == SL_T_NULL)
                lt = rt;
        if (rt == SL_T_NULL)
                rt = lt;
        bool num = sl_type_is_numeric(lt) && sl_type_is_numeric(rt);
        bool dbl = num && (lt == SL_T_DOUBLE || rt == SL_T_DOUBLE);
        int rc = 0;
        if (dbl && lt != SL_T_DOUBLE)
                rc = emit(c, OP_I2D, 1, 0);
        if (rc == 0 && dbl && rt != SL_T_DOUBLE)
                rc = emit(c, OP_I2D, 0, 0);
        if (rc)
                return rc;
        enum op cop;
        if (num)
                cop = dbl ? OP_CMP_D : OP_CMP_I;
        else if (lt == SL_T_STRING && rt == SL_T_STRING)
                cop = OP_CMP_S;
        else if (lt == SL_T_BOOL && rt == SL_T_BOOL && (op == SL_OP_EQ || op == SL_OP_NE))
                cop = OP_CMP_B;
        else if (lt == SL_T_NULL && rt == SL_T_NULL)
                cop = OP_CMP_I;
        else
                return fail(c, e, "cannot compare %s with %s", sl_type_name(lt), sl_type_name(rt));
        c->sp--;
        return emit(c, cop, 0, (uint8_t)op);
}

/* Compiles one operand of CONCAT or ||: a STRING or a NULL literal. */
static int concat_operand(struct compiler *c, const struct sl_expr *a, const char *what,
                          uint32_t *n)
{
        enum sl_type t;
        int rc = compile(c, a, &t);
        if (rc)
                return rc;
        if (t != SL_T_STRING && t != SL_T_NULL)
                return fail(c, a, "%s expects STRING arguments, got %s (convert with CAST(... AS STRING) or use FORMAT)",
                            what, sl_type_name(t));
        /* Keeps the operands on the stack bounded for long chains. */
        if (++*n == CONCAT_CHUNK) {
                c->sp -= CONCAT_CHUNK - 1;
                *n = 1;
                return emit(c, OP_CONCAT, CONCAT_CHUNK, 0);
        }
        return 0;
}

/* The operands of a || b || c, flattened: || is associative. */
static int concat_chain(struct compiler *c, const struct sl_expr *e, uint32_t *n)
{
        for (int i = 0; i < 2; i++) {
                const struct sl_expr *a = e->args[i];
                int rc = a->kind == SL_EX_BINARY && a->op == SL_OP_CONCAT
                                 ? concat_chain(c, a, n)
                                 : concat_operand(c, a, "||", n);
                if (rc)
                        return rc;
        }
        return 0;
}

static int finish_concat(struct compiler *c, uint32_t n, enum sl_type *type)
{
        *type = SL_T_STRING;
        if (n < 2)
                return 0;
        c->sp -= n - 1;
        return emit(c, OP_CONCAT, n, 0);
}

static int compile_binary(struct compiler *c, const struct sl_expr *e,
                          enum sl_type *type)
{
        enum sl_op op = e->op;
        if (op == SL_OP_CONCAT) {
                uint32_t n = 0;
                int rc = concat_chain(c, e, &n);
                return rc ? rc : finish_concat(c, n, type);
        }
        enum sl_type lt, rt;
        int rc = compile(c, e->args[0], &lt);
        if (rc == 0)
                rc = compile(c, e->args[1], &rt);
        if (rc)
                return rc;
        if (op >= SL_OP_EQ && op <= SL_OP_GE) {
                *type = SL_T_BOOL;
                return emit_compare(c, e, lt, rt, op);
        }
        /* A NULL literal operand: the result is NULL-typed, and takes the
         * other side's type so that the program stays well-typed. */
        if (lt == SL_T_NULL)
                lt = rt;
        if (rt == SL_T_NULL)
                rt = lt;
        const char *ltn = sl_type_name(lt), *rtn = sl_type_name(rt);

        if (op == SL_OP_AND || op == SL_OP_OR) {
                if ((lt != SL_T_BOOL && lt != SL_T_NULL) ||
                    (rt != SL_T_BOOL && rt != SL_T_NULL))
                        return fail(c, e, "%s needs BOOLEAN operands, found %s",
                                    op_text(op), lt != SL_T_BOOL ? ltn : rtn);
                c->sp--;
                *type = SL_T_BOOL;
                return emit(c, op == SL_OP_AND ? OP_AND : OP_OR, 0, 0);
        }
        if (op == SL_OP_ADD && lt == SL_T_STRING && rt == SL_T_STRING) {
                /* ksqlDB's + on strings concatenates; NULL gives NULL here. */
                c->sp--;
                *type = SL_T_STRING;
                return emit(c, OP_CONCAT, 2, 1);
        }
        bool num = sl_type_is_numeric(lt) && sl_type_is_numeric(rt);
        bool dbl = num && (lt == SL_T_DOUBLE || rt == SL_T_DOUBLE);
        if (!num && !(lt == SL_T_NULL && rt == SL_T_NULL))
                return fail(c, e, "operator %s cannot be applied to %s and %s",
                            op_text(op), ltn, rtn);
        if (dbl && lt != SL_T_DOUBLE && lt != SL_T_NULL)
                rc = emit(c, OP_I2D, 1, 0);
        if (rc == 0 && dbl && rt != SL_T_DOUBLE && rt != SL_T_NULL)
                rc = emit(c, OP_I2D, 0, 0);
        if (rc)
                return rc;
        c->sp--;
        static const enum op iops[] = {
                [SL_OP_ADD] = OP_ADD_I, [SL_OP_SUB] = OP_SUB_I,
                [SL_OP_MUL] = OP_MUL_I, [SL_OP_DIV] = OP_DIV_I,
                [SL_OP_MOD] = OP_MOD_I,
        };
        *type = dbl ? SL_T_DOUBLE : SL_T_BIGINT;
        enum op o = iops[op];
        if (dbl)
                o = (enum op)(o + (OP_ADD_D - OP_ADD_I));
        return emit(c, o, 0, 0);
}

/* ---- branches (CASE, COALESCE, IFNULL) ------------------------------ */

/*
 * Fix-ups of one branching construct: the jumps to its end, and the NOP
 * left behind each integer branch value (UINT32_MAX: none).
 */
struct branches {
        uint32_t n;
        uint32_t *jump;
        uint32_t *nop;
        enum sl_type acc; /* common type so far */
};

static int branches_init(struct branches *b, uint32_t n)
{
        b->n = 0;
        b->acc = SL_T_NULL;
        b->jump = malloc(n * sizeof *b->jump);
        b->nop = malloc(n * sizeof *b->nop);
        return b->jump && b->nop ? 0 : -ENOMEM;
}

static void branches_free(struct branches *b)
{
        free(b->jump);
        free(b->nop);
}

/*
 * A branch value of type t was just compiled: folds t into the common
 * type and leaves a NOP if it may need converting.  what/other name the
 * construct for the message.
 */
static int branch_value(struct compiler *c, struct branches *b, const struct sl_expr *at,
                        enum sl_type t, const char *what)
{
        enum sl_type before = b->acc;
        if (!unify(&b->acc, t))
                return fail(c, at, "%s must have one type: this one is %s, an earlier one %s",
                            what, sl_type_name(t), sl_type_name(before));
        b->nop[b->n] = UINT32_MAX;
        b->jump[b->n] = UINT32_MAX;
        if (is_int(t)) {
                b->nop[b->n] = c->p->ninsn;
                int rc = emit(c, OP_NOP, 0, 0);
                if (rc)
                        return rc;
        }
        b->n++;
        return 0;
}

/* The jump that ends the branch just added, to be pointed at the end. */
static int branch_jump(struct compiler *c, struct branches *b, enum op op)
{
        b->jump[b->n - 1] = c->p->ninsn;
        return emit(c, op, 0, 0);
}

/* At the end of the construct: aims the jumps here, converts branches. */
static void branches_close(struct compiler *c, struct branches *b)
{
        uint32_t end = c->p->ninsn;
        for (uint32_t i = 0; i < b->n; i++) {
                if (b->jump[i] != UINT32_MAX)
                        c->p->insn[b->jump[i]].a = (uint16_t)end;
                if (b->nop[i] != UINT32_MAX && b->acc == SL_T_DOUBLE)
                        c->p->insn[b->nop[i]] = (struct insn){.op = OP_I2D, .a = 0};
        }
}

/*
 * CASE: searched (WHEN cond) or simple (CASE x WHEN v: x = v).  The
 * operand of a simple CASE stays on the stack while the WHEN values are
 * compared with a copy of it, and is popped before a result is computed.
 */
static int compile_case(struct compiler *c, const struct sl_expr *e, enum sl_type *type)
{
        uint32_t base = c->sp, i = 0, end = e->nargs - (e->has_else ? 1 : 0);
        enum sl_type tx = SL_T_NULL, t;
        struct branches b;
        int rc = branches_init(&b, e->nargs + 1);
        if (rc)
                goto out;
        if (e->has_operand && (rc = compile(c, e->args[i++], &tx)) != 0)
                goto out;
        for (; i < end; i += 2) {
                const struct sl_expr *when = e->args[i], *then = e->args[i + 1];
                if (e->has_operand) {
                        if ((rc = push(c, when)) || (rc = emit(c, OP_DUP, 0, 0)) ||
                            (rc = compile(c, when, &t)) || (rc = emit_compare(c, when, tx, t, SL_OP_EQ)))
                                goto out;
                } else {
                        if ((rc = compile(c, when, &t)))
                                goto out;
                        if (t != SL_T_BOOL && t != SL_T_NULL) {
                                rc = fail(c, when, "CASE WHEN needs a BOOLEAN condition, found %s",
                                          sl_type_name(t));
                                goto out;
                        }
                }
                uint32_t jnt = c->p->ninsn;
                if ((rc = emit(c, OP_JNT, 0, 0)))
                        goto out;
                c->sp--;
                if (e->has_operand) {
                        if ((rc = emit(c, OP_POP, 0, 0)))
                                goto out;
                        c->sp--;
                }
                if ((rc = compile(c, then, &t)) ||
                    (rc = branch_value(c, &b, then, t, "CASE results")) ||
                    (rc = branch_jump(c, &b, OP_JMP)))
                        goto out;
                c->sp = e->has_operand ? base + 1 : base;
                c->p->insn[jnt].a = (uint16_t)c->p->ninsn;
        }
        if (e->has_operand) {
                if ((rc = emit(c, OP_POP, 0, 0)))
                        goto out;
                c->sp--;
        }
        if (e->has_else) {
                rc = compile(c, e->args[end], &t);
                if (rc == 0)
                        rc = branch_value(c, &b, e->args[end], t, "CASE results");
        } else {
                struct sl_value null = {.type = SL_T_NULL};
                rc = emit_const(c, e, &null);
        }
        if (rc)
                goto out;
        branches_close(c, &b);
        c->sp = base + 1;
        *type = b.acc;
out:
        branches_free(&b);
        return rc;
}

/* ---- scalar functions ----------------------------------------------- */

struct scalar {
        const char *name;
        uint8_t min, max; /* arguments; max 0: no limit */
        int (*compile)(struct compiler *c, const struct sl_expr *e, const struct scalar *f,
                       enum sl_type *type);
};

/* Compiles argument i, which must be a number (or a NULL literal). */
static int numeric_arg(struct compiler *c, const struct sl_expr *e, uint32_t i,
                       const struct scalar *f, enum sl_type *t)
{
        int rc = compile(c, e->args[i], t);
        if (rc == 0 && !sl_type_is_numeric(*t) && *t != SL_T_NULL)
                rc = fail(c, e->args[i], "%s expects a number, got %s", f->name, sl_type_name(*t));
        return rc;
}

static int compile_abs(struct compiler *c, const struct sl_expr *e, const struct scalar *f,
                       enum sl_type *type)
{
        enum sl_type t;
        int rc = numeric_arg(c, e, 0, f, &t);
        if (rc)
                return rc;
        /* Integers are computed in 64 bits, so ABS of an INTEGER is BIGINT. */
        *type = t == SL_T_DOUBLE ? SL_T_DOUBLE : SL_T_BIGINT;
        return emit(c, t == SL_T_DOUBLE ? OP_ABS_D : OP_ABS_I, 0, 0);
}

/* CEIL and FLOOR: integers unchanged; DOUBLE stays DOUBLE (ksqlDB). */
static int compile_ceil_floor(struct compiler *c, const struct sl_expr *e,
                              const struct scalar *f, enum sl_type *type)
{
        enum sl_type t;
        int rc = numeric_arg(c, e, 0, f, &t);
        if (rc)
                return rc;
        *type = t == SL_T_NULL ? SL_T_BIGINT : t;
        if (t != SL_T_DOUBLE)
                return 0;
        return emit(c, f->name[0] == 'C' ? OP_CEIL_D : OP_FLOOR_D, 0, 0);
}

/* ROUND(x): BIGINT; ROUND(x, places): DOUBLE (ksqlDB's overloads). */
static int compile_round(struct compiler *c, const struct sl_expr *e, const struct scalar *f,
                         enum sl_type *type)
{
        enum sl_type t, tp;
        int rc = numeric_arg(c, e, 0, f, &t);
        if (rc)
                return rc;
        if (e->nargs == 1) {
                *type = SL_T_BIGINT;
                return t == SL_T_DOUBLE ? emit(c, OP_ROUND_D, 0, 0) : 0;
        }
        if ((rc = compile(c, e->args[1], &tp)))
                return rc;
        if (!is_int(tp) && tp != SL_T_NULL)
                return fail(c, e->args[1],
                            "ROUND expects an integer number of decimal places, got %s", sl_type_name(tp));
        if (t != SL_T_DOUBLE && (rc = emit(c, OP_I2D, 1, 0)))
                return rc;
        c->sp--;
        *type = SL_T_DOUBLE;
        return emit(c, OP_ROUND_DN, 0, 0);
}

static int compile_least_greatest(struct compiler *c, const struct sl_expr *e,
                                  const struct scalar *f, enum sl_type *type)
{
        enum sl_type ts[SL_PROG_MAX_STACK], acc = SL_T_NULL;
        uint32_t n = e->nargs;
        if (n > SL_PROG_MAX_STACK)
                return fail(c, e, "expression too complex");
        for (uint32_t i = 0; i < n; i++) {
                enum sl_type before = acc;
                int rc = compile(c, e->args[i], &ts[i]);
                if (rc)
                        return rc;
                if (ts[i] == SL_T_BOOL)
                        return fail(c, e->args[i], "%s expects numbers or strings, got BOOLEAN", f->name);
                if (!unify(&acc, ts[i]))
                        return fail(c, e->args[i],
                                    "%s arguments must have one type: this one is %s, an earlier one %s",
                                    f->name, sl_type_name(ts[i]), sl_type_name(before));
        }
        for (uint32_t i = 0; i < n && acc == SL_T_DOUBLE; i++) {
                int rc = is_int(ts[i]) ? emit(c, OP_I2D, n - 1 - i, 0) : 0;
                if (rc)
                        return rc;
        }
        bool least = f->name[0] == 'L';
        enum op op = acc == SL_T_DOUBLE ? (least ? OP_LEAST_D : OP_GREATEST_D)
                     : acc == SL_T_STRING ? (least ? OP_LEAST_S : OP_GREATEST_S)
                                          : (least ? OP_LEAST_I : OP_GREATEST_I);
        c->sp -= n - 1;
        *type = acc;
        return emit(c, op, n, 0);
}

/* COALESCE(a, ...) and IFNULL(a, b): the first non-NULL, lazily. */
static int compile_coalesce(struct compiler *c, const struct sl_expr *e,
                            const struct scalar *f, enum sl_type *type)
{
        uint32_t base = c->sp;
        char what[48];
        snprintf(what, sizeof what, "%s arguments", f->name);
        struct branches b;
        int rc = branches_init(&b, e->nargs);
        for (uint32_t i = 0; i < e->nargs && rc == 0; i++) {
                enum sl_type t;
                c->sp = base;
                rc = compile(c, e->args[i], &t);
                if (rc == 0)
                        rc = branch_value(c, &b, e->args[i], t, what);
                if (rc == 0 && i + 1 < e->nargs)
                        rc = branch_jump(c, &b, OP_JNN);
        }
        if (rc == 0) {
                branches_close(c, &b);
                c->sp = base + 1;
                *type = b.acc;
        }
        branches_free(&b);
        return rc;
}

static int compile_concat(struct compiler *c, const struct sl_expr *e, const struct scalar *f,
                          enum sl_type *type)
{
        uint32_t n = 0;
        for (uint32_t i = 0; i < e->nargs; i++) {
                int rc = concat_operand(c, e->args[i], f->name, &n);
                if (rc)
                        return rc;
        }
        return finish_concat(c, n, type);
}

/*
 * Parses FORMAT's format into pieces.  Supported: %s, %d, %f, %% and %n,
 * with java.util.Formatter's flags - + space 0 and ',', a width, and a
 * precision for %f; anything else is refused here rather than printed
 * wrong later.
 */
static int parse_format(struct compiler *c, const struct sl_expr *lit, struct fmt *f)
{
        const char *s = lit->u.s.p;
        uint32_t n = lit->u.s.len, cap = 4, text = 0;
        f->text = malloc(n + 1);
        f->piece = malloc(cap * sizeof *f->piece);
        if (!f->text || !f->piece)
                return -ENOMEM;
        struct fmt_piece cur = {0};
        for (uint32_t i = 0; i < n;) {
                if (s[i] != '%') {
                        f->text[text++] = s[i++];
                        cur.len++;
                        continue;
                }
                uint32_t at = i + 1; /* 1-based position of the '%' */
                if (++i == n)
                        return fail(c, lit, "FORMAT: '%%' at the end of the format (write %%%% for a percent sign)");
                if (s[i] == '%' || s[i] == 'n') {
                        f->text[text++] = s[i] == '%' ? '%' : '\n';
                        cur.len++;
                        i++;
                        continue;
                }
                for (;; i++) {
                        const char *fl = i < n ? strchr("-+ 0,", s[i]) : NULL;
                        if (!fl || !s[i])
                                break;
                        uint8_t bit = (uint8_t)(1u << (fl - "-+ 0,"));
                        if (cur.flags & bit)
                                return fail(c, lit, "FORMAT: flag '%c' given twice at position %u of the format",
                                            s[i], at);
                        cur.flags |= bit;
                }
                unsigned width = 0, prec = 6;
                bool has_prec = false;
                while (i < n && s[i] >= '0' && s[i] <= '9' && width <= FMT_MAX_WIDTH)
                        width = width * 10 + (unsigned)(s[i++] - '0');
                if (width > FMT_MAX_WIDTH)
                        return fail(c, lit, "FORMAT: width above %d at position %u of the format",
                                    FMT_MAX_WIDTH, at);
                if (i < n && s[i] == '.') {
                        has_prec = true;
                        prec = 0;
                        if (++i == n || s[i] < '0' || s[i] > '9')
                                return fail(c, lit, "FORMAT: '.' without digits at position %u of the format",
                                            at);
                        while (i < n && s[i] >= '0' && s[i] <= '9' && prec <= FMT_MAX_PREC)
                                prec = prec * 10 + (unsigned)(s[i++] - '0');
                        if (prec > FMT_MAX_PREC)
                                return fail(c, lit, "FORMAT: precision above %d at position %u of the format",
                                            FMT_MAX_PREC, at);
                }
                char conv = i < n ? s[i] : 0;
                if (conv != 's' && conv != 'd' && conv != 'f') {
                        if (conv >= 0x21 && conv < 0x7f)
                                return fail(c, lit,
                                            "FORMAT: unsupported conversion '%%%c' at position %u of the format (supported: %%s, %%d, %%f, %%%% and %%n)",
                                            conv, at);
                        return fail(c, lit,
                                    "FORMAT: incomplete conversion at position %u of the format (supported: %%s, %%d, %%f, %%%% and %%n)",
                                    at);
                }
                i++;
                uint8_t fl = cur.flags;
                if (conv == 's' && (fl & ~FF_MINUS))
                        return fail(c, lit, "FORMAT: %%s takes no flag but '-' (position %u of the format)", at);
                if (has_prec && conv != 'f')
                        return fail(c, lit, "FORMAT: a precision only applies to %%f (position %u of the format)",
                                    at);
                if ((fl & FF_PLUS) && (fl & FF_SPACE))
                        return fail(c, lit, "FORMAT: flags '+' and ' ' together at position %u of the format", at);
                if ((fl & FF_MINUS) && (fl & FF_ZERO))
                        return fail(c, lit, "FORMAT: flags '-' and '0' together at position %u of the format", at);
                if ((fl & (FF_MINUS | FF_ZERO)) && width == 0)
                        return fail(c, lit, "FORMAT: flag '%c' needs a width at position %u of the format",
                                    fl & FF_MINUS ? '-' : '0', at);
                cur.conv = conv;
                cur.width = (uint8_t)width;
                cur.prec = (uint8_t)prec;
                if (f->npiece + 1 == cap) {
                        cap *= 2;
                        struct fmt_piece *np = realloc(f->piece, cap * sizeof *np);
                        if (!np)
                                return -ENOMEM;
                        f->piece = np;
                }
                f->piece[f->npiece++] = cur;
                f->nconv++;
                cur = (struct fmt_piece){.off = text};
        }
        f->piece[f->npiece++] = cur; /* the trailing literal, conv 0 */
        return 0;
}

static int add_fmt(struct compiler *c, struct fmt **out)
{
        struct fmt *n = realloc(c->p->fmts, (c->p->nfmt + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        c->p->fmts = n;
        *out = &n[c->p->nfmt++];
        **out = (struct fmt){0};
        return 0;
}

static int compile_format(struct compiler *c, const struct sl_expr *e, const struct scalar *f,
                          enum sl_type *type)
{
        (void)f;
        const struct sl_expr *lit = e->args[0];
        if (lit->kind != SL_EX_STRING)
                return fail(c, lit,
                            "FORMAT needs a string literal as its format (it is checked when the pipeline is planned)");
        if (c->p->nfmt >= MAX_INSN)
                return fail(c, e, "expression too complex");
        struct fmt *fm;
        int rc = add_fmt(c, &fm);
        uint32_t k = c->p->nfmt - 1;
        if (rc || (rc = parse_format(c, lit, fm)))
                return rc;
        uint32_t nargs = e->nargs - 1;
        if (fm->nconv != nargs)
                return fail(c, e, "FORMAT: the format has %u conversion%s but %u argument%s follow%s",
                            fm->nconv, fm->nconv == 1 ? "" : "s", nargs, nargs == 1 ? "" : "s",
                            nargs == 1 ? "s" : "");
        /* An argument may hold a FORMAT too, which moves c->p->fmts. */
        uint32_t a = 0, npiece = fm->npiece;
        for (uint32_t i = 0; i < npiece && rc == 0; i++) {
                if (!c->p->fmts[k].piece[i].conv)
                        continue;
                const struct sl_expr *arg = e->args[++a];
                enum sl_type t;
                if ((rc = compile(c, arg, &t)))
                        break;
                struct fmt_piece *pc = &c->p->fmts[k].piece[i];
                pc->type = (uint8_t)t;
                if (pc->conv == 'd' && !is_int(t) && t != SL_T_NULL)
                        rc = fail(c, arg, "FORMAT: %%d (conversion %u) needs an integer, got %s (use %%.0f, or ROUND or CAST)",
                                  a, sl_type_name(t));
                else if (pc->conv == 'f' && !sl_type_is_numeric(t) && t != SL_T_NULL)
                        rc = fail(c, arg, "FORMAT: %%f (conversion %u) needs a number, got %s", a,
                                  sl_type_name(t));
        }
        if (rc)
                return rc;
        *type = SL_T_STRING;
        if (nargs == 0) {
                /* Only literal text: a constant. */
                struct sl_value v = {.u.s = {fm->text, fm->piece[0].len}, .type = SL_T_STRING};
                return emit_const(c, e, &v);
        }
        c->sp -= nargs - 1;
        return emit(c, OP_FORMAT, k, 0);
}

/* Sorted by name. */
static const struct scalar scalars[] = {
        {"ABS", 1, 1, compile_abs},
        {"CEIL", 1, 1, compile_ceil_floor},
        {"COALESCE", 1, 0, compile_coalesce},
        {"CONCAT", 2, 0, compile_concat},
        {"FLOOR", 1, 1, compile_ceil_floor},
        {"FORMAT", 1, 0, compile_format},
        {"GREATEST", 1, 0, compile_least_greatest},
        {"IFNULL", 2, 2, compile_coalesce},
        {"LEAST", 1, 0, compile_least_greatest},
        {"ROUND", 1, 2, compile_round},
};

static const struct scalar *scalar_lookup(const char *name)
{
        for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++)
                if (strcasecmp(scalars[i].name, name) == 0)
                        return &scalars[i];
        return NULL;
}

/* Case-insensitive Levenshtein distance; names are short (capped). */
static unsigned edit_distance(const char *a, const char *b)
{
        enum { MAXN = 32 };
        size_t na = strlen(a), nb = strlen(b);
        if (na >= MAXN || nb >= MAXN)
                return MAXN;
        unsigned row[MAXN + 1];
        for (size_t j = 0; j <= nb; j++)
                row[j] = (unsigned)j;
        for (size_t i = 1; i <= na; i++) {
                unsigned diag = row[0];
                row[0] = (unsigned)i;
                for (size_t j = 1; j <= nb; j++) {
                        unsigned up = row[j];
                        int ca = a[i - 1], cb = b[j - 1];
                        if (ca >= 'a' && ca <= 'z')
                                ca -= 'a' - 'A';
                        if (cb >= 'a' && cb <= 'z')
                                cb -= 'a' - 'A';
                        unsigned best = diag + (ca != cb);
                        if (up + 1 < best)
                                best = up + 1;
                        if (row[j - 1] + 1 < best)
                                best = row[j - 1] + 1;
                        row[j] = best;
                        diag = up;
                }
        }
        return row[nb];
}

static int unknown_function(struct compiler *c, const struct sl_expr *e)
{
        const char *best = NULL;
        unsigned bd = strlen(e->name) <= 4 ? 2 : 3; /* closer than this */
        for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
                unsigned d = edit_distance(e->name, scalars[i].name);
                if (d < bd) {
                        bd = d;
                        best = scalars[i].name;
                }
        }
        for (int k = SL_AGG_COUNT; k <= SL_AGG_EMA; k++) {
                unsigned d = edit_distance(e->name, sl_agg_name((enum sl_agg_kind)k));
                if (d < bd) {
                        bd = d;
                        best = sl_agg_name((enum sl_agg_kind)k);
                }
        }
        if (best)
                return fail(c, e, "unknown function '%s' (did you mean %s?)", e->name, best);
        return fail(c, e, "unknown function '%s'", e->name);
}

static int compile_call(struct compiler *c, const struct sl_expr *e, const struct scalar *f,
                        enum sl_type *type)
{
        if (e->star)
                return fail(c, e, "%s(*) is not allowed", f->name);
        if (e->nargs < f->min || (f->max && e->nargs > f->max)) {
                if (f->max == f->min)
                        return fail(c, e, "%s takes %u argument%s, got %u", f->name, f->min,
                                    f->min == 1 ? "" : "s", e->nargs);
                if (f->max == 0)
                        return fail(c, e, "%s takes at least %u argument%s, got %u", f->name, f->min,
                                    f->min == 1 ? "" : "s", e->nargs);
                return fail(c, e, "%s takes %u or %u arguments, got %u", f->name, f->min, f->max,
                            e->nargs);
        }
        return f->compile(c, e, f, type);
}

/*
 * CAST: the conversions ksqlDB supports between these types.  BOOLEAN
 * converts to STRING only; numbers do not convert to BOOLEAN.
 */
static int compile_cast(struct compiler *c, const struct sl_expr *e, enum sl_type *type)
{
        enum sl_type from, to = e->cast_to;
        int rc = compile(c, e->args[0], &from);
        if (rc)
                return rc;
        *type = to;
        if (from == to || from == SL_T_NULL || (from == SL_T_INT && to == SL_T_BIGINT))
                return 0;
        int cast = -1;
        switch (to) {
        case SL_T_STRING:
                cast = from == SL_T_BOOL ? CAST_B2S : from == SL_T_DOUBLE ? CAST_D2S : CAST_I2S;
                break;
        case SL_T_INT:
                cast = from == SL_T_BIGINT ? CAST_L2I : from == SL_T_DOUBLE ? CAST_D2I
                       : from == SL_T_STRING ? CAST_S2I : -1;
                break;
        case SL_T_BIGINT:
                cast = from == SL_T_DOUBLE ? CAST_D2L : from == SL_T_STRING ? CAST_S2L : -1;
                break;
        case SL_T_DOUBLE:
                if (is_int(from))
                        return emit(c, OP_I2D, 0, 0);
                cast = from == SL_T_STRING ? CAST_S2D : -1;
                break;
        case SL_T_BOOL:
                cast = from == SL_T_STRING ? CAST_S2B : -1;
                break;
        case SL_T_NULL:
        case SL_T_ARRAY: /* not a CAST target in the grammar */
                break;
        }
        if (cast < 0)
                return fail(c, e, "Cast of %s to %s is not supported", sl_type_name(from),
                            sl_type_name(to));
        return emit(c, OP_CAST, 0, (uint8_t)cast);
}

static int compile(struct compiler *c, const struct sl_expr *e,
                   enum sl_type *type)
{
        struct sl_value v = {0};
        const struct scalar *f;
        int rc;

        if (++c->depth > 256)
                return fail(c, e, "expression nested too deeply");
        switch (e->kind) {
        case SL_EX_INT:
                v.type = SL_T_BIGINT;
                v.u.i = e->u.i;
                goto constant;
        case SL_EX_DOUBLE:
                v.type = SL_T_DOUBLE;
                v.u.d = e->u.d;
                goto constant;
        case SL_EX_BOOL:
                v.type = SL_T_BOOL;
                v.u.b = e->u.b;
                goto constant;
        case SL_EX_NULL:
                v.type = SL_T_NULL;
                goto constant;
        case SL_EX_STRING:
                v.type = SL_T_STRING;
                v.u.s.p = e->u.s.p;
                v.u.s.len = e->u.s.len;
                goto constant;
        case SL_EX_CALL:
                if ((f = scalar_lookup(e->name)) != NULL) {
                        rc = compile_call(c, e, f, type);
                        break;
                }
                if (sl_agg_lookup(e->name) < 0)
                        return unknown_function(c, e);
                /* An aggregate: a slot of the planner's. */
                /* fall through */
        case SL_EX_COLUMN:
        case SL_EX_WINDOWSTART:
        case SL_EX_WINDOWEND: {
                int slot = c->resolve(c->ctx, e, type, c->err->msg,
                                      sizeof c->err->msg);
                if (slot < 0) {
                        c->err->pos = e->pos;
                        return -EINVAL;
                }
                /* The depth is 1 for a whole expression: arrays have no
                 * operators or functions yet (docs/sql.md). */
                if (*type == SL_T_ARRAY && c->depth > 1)
                        return fail(c, e, "%s returns an ARRAY, which can only be selected as it is, "
                                          "not used in an expression", e->name ? e->name : "this");
                if ((rc = push(c, e)) != 0)
                        return rc;
                rc = emit(c, OP_LOAD, (uint32_t)slot, 0);
                break;
        }
        case SL_EX_UNARY: {
                enum sl_type t;
                if ((rc = compile(c, e->args[0], &t)) != 0)
                        return rc;
                if (e->op == SL_OP_NOT) {
                        if (t != SL_T_BOOL && t != SL_T_NULL)
                                return fail(c, e, "NOT needs a BOOLEAN operand, found %s", sl_type_name(t));
                        *type = SL_T_BOOL;
                        rc = emit(c, OP_NOT, 0, 0);
                } else {
                        if (!sl_type_is_numeric(t) && t != SL_T_NULL)
                                return fail(c, e, "unary - needs a number, found %s", sl_type_name(t));
                        *type = t == SL_T_DOUBLE ? SL_T_DOUBLE : SL_T_BIGINT;
                        rc = emit(c, t == SL_T_DOUBLE ? OP_NEG_D : OP_NEG_I, 0, 0);
                }
                break;
        }
        case SL_EX_BINARY:
                rc = compile_binary(c, e, type);
                break;
        case SL_EX_IS_NULL: {
                enum sl_type t;
                if ((rc = compile(c, e->args[0], &t)) != 0)
                        return rc;
                *type = SL_T_BOOL;
                rc = emit(c, e->negated ? OP_IS_NOT_NULL : OP_IS_NULL, 0, 0);
                break;
        }
        case SL_EX_CASE:
                rc = compile_case(c, e, type);
                break;
        case SL_EX_CAST:
                rc = compile_cast(c, e, type);
                break;
        default:
                return fail(c, e, "unsupported expression");
        }
        c->depth--;
        return rc;
constant:
        *type = v.type;
        c->depth--;
        return emit_const(c, e, &v);
}

struct sl_prog *sl_expr_compile(const struct sl_expr *e,
                                sl_expr_resolve_fn resolve, void *ctx,
                                struct sl_expr_error *err)
{
        struct compiler c = {.resolve = resolve, .ctx = ctx, .err = err, .root = e};
        struct sl_prog *p = calloc(1, sizeof *p);
        if (!p)
                goto oom;
        c.p = p;
        enum sl_type t;
        int rc = compile(&c, e, &t);
        if (rc == -ENOMEM)
                goto oom;
        if (rc)
                goto fail;
        p->type = t;
        p->depth = c.max_sp;
        /* The constants' bytes stop moving now: point the strings at them. */
        p->strings = c.sbuf ? c.sbuf : malloc(1);
        c.sbuf = NULL;
        if (!p->strings)
                goto oom;
        for (uint32_t k = 0; k < p->nconst; k++)
                if (p->consts[k].type == SL_T_STRING)
                        p->consts[k].u.s.p = p->strings + c.soff[k];
        free(c.soff);
        return p;
oom:
        err->pos = e->pos;
        snprintf(err->msg, sizeof err->msg, "out of memory");
fail:
        free(c.sbuf);
        free(c.soff);
        sl_prog_free(p);
        return NULL;
}

void sl_prog_free(struct sl_prog *p)
{
        if (!p)
                return;
        for (uint32_t i = 0; i < p->nfmt; i++) {
                free(p->fmts[i].text);
                free(p->fmts[i].piece);
        }
        free(p->fmts);
        free(p->insn);
        free(p->consts);
        free(p->strings);
        free(p);
}

enum sl_type sl_prog_type(const struct sl_prog *p)
{
        return p->type;
}

int sl_prog_as_slot(const struct sl_prog *p)
{
        return p->ninsn == 1 && p->insn[0].op == OP_LOAD ? p->insn[0].a : -1;
}

uint64_t sl_prog_overflows(const struct sl_prog *p)
{
        /* Relaxed: a statistic read after the fact; no data depends on it. */
        return atomic_load_explicit(&((struct sl_prog *)p)->overflows, memory_order_relaxed);
}

/* ---- run time: numbers as text -------------------------------------- */

/*
 * The shortest decimal that reads back as v (finite, non-zero): digits
 * d[0..n) without leading or trailing zeros, v = 0.d * 10^(x + 1), i.e. x
 * is the exponent of the first digit.  Taken from json_encode's text.
 */
static int shortest_digits(double v, char *d, int *x)
{
        char tmp[40];
        size_t len = sl_double_shortest(v, tmp);
        tmp[len] = '\0';
        int n = 0, point = -1, lead = 0, e = 0;
        size_t i = tmp[0] == '-' ? 1 : 0;
        for (; i < len && tmp[i] != 'e'; i++) {
                if (tmp[i] == '.') {
                        point = n + lead;
                        continue;
                }
                if (n == 0 && tmp[i] == '0') {
                        lead++;
                        continue;
                }
                d[n++] = tmp[i];
        }
        if (i < len)
                e = atoi(tmp + i + 1);
        if (point < 0)
                point = n + lead;
        while (n > 1 && d[n - 1] == '0')
                n--;
        *x = point - lead - 1 + e;
        return n;
}

static size_t put_u64(char *out, uint64_t u)
{
        char tmp[24];
        size_t n = 0;
        do {
                tmp[n++] = (char)('0' + u % 10);
                u /= 10;
        } while (u);
        for (size_t i = 0; i < n; i++)
                out[i] = tmp[n - 1 - i];
        return n;
}

static size_t put_i64(char *out, int64_t v)
{
        if (v >= 0)
                return put_u64(out, (uint64_t)v);
        out[0] = '-';
        return 1 + put_u64(out + 1, 0 - (uint64_t)v);
}

/* Java's Double.toString: "1.0E7", "0.001", "-0.0", "NaN", "Infinity". */
static size_t java_double(double v, char *out)
{
        if (isnan(v)) {
                memcpy(out, "NaN", 3);
                return 3;
        }
        char *o = out;
        if (signbit(v))
                *o++ = '-';
        if (isinf(v)) {
                memcpy(o, "Infinity", 8);
                return (size_t)(o - out) + 8;
        }
        if (v == 0) {
                memcpy(o, "0.0", 3);
                return (size_t)(o - out) + 3;
        }
        char d[24];
        int x, n = shortest_digits(v, d, &x);
        if (n == 1 && fabs(v) < DBL_MIN) {
                /*
                 * Java prints at least two digits, and picks the two-digit
                 * decimal nearest to v: for a normal double that is d.0,
                 * for a subnormal (wide, even spacing) it may not be
                 * (Double.MIN_VALUE is 4.9E-324, not 5.0E-324).
                 */
                char tmp[32];
                snprintf(tmp, sizeof tmp, "%.1e", fabs(v));
                n = 0;
                const char *t = tmp;
                for (; *t && *t != 'e'; t++)
                        if (*t >= '0' && *t <= '9')
                                d[n++] = *t;
                x = atoi(t + 1);
                while (n > 1 && d[n - 1] == '0')
                        n--;
        }
        if (x >= -3 && x < 7) {
                if (x < 0) {
                        *o++ = '0';
                        *o++ = '.';
                        for (int i = 0; i < -x - 1; i++)
                                *o++ = '0';
                        memcpy(o, d, (size_t)n);
                        o += n;
                } else {
                        for (int i = 0; i <= x; i++)
                                *o++ = i < n ? d[i] : '0';
                        *o++ = '.';
                        if (n > x + 1) {
                                memcpy(o, d + x + 1, (size_t)(n - x - 1));
                                o += n - x - 1;
                        } else {
                                *o++ = '0';
                        }
                }
        } else {
                *o++ = d[0];
                *o++ = '.';
                if (n > 1) {
                        memcpy(o, d + 1, (size_t)n - 1);
                        o += n - 1;
                } else {
                        *o++ = '0';
                }
                *o++ = 'E';
                o += put_i64(o, x);
        }
        return (size_t)(o - out);
}

/*
 * Rounds the decimal 0.d * 10^(x + 1) (d[0..n), no leading zero) to q
 * digits after the point.  Writes the result in units of 10^-q as digits
 * into out (no leading zero; none at all for zero) and returns how many.
 * A tie goes away from zero if tie_away, else toward zero.  out holds
 * x + q + 2 bytes.
 */
static int round_decimal(const char *d, int n, int x, int q, bool tie_away, char *out)
{
        int k = x + 1 + q; /* digits of d kept */
        if (k >= n) {
                memcpy(out, d, (size_t)n);
                memset(out + n, '0', (size_t)(k - n));
                return k;
        }
        char first = k >= 0 ? d[k] : '0';
        bool up = first > '5' || (first == '5' && (tie_away || n > k + 1));
        if (k <= 0) {
                if (!up)
                        return 0;
                out[0] = '1';
                return 1;
        }
        memcpy(out, d, (size_t)k);
        if (up) {
                int i = k - 1;
                while (i >= 0 && out[i] == '9')
                        out[i--] = '0';
                if (i >= 0) {
                        out[i]++;
                } else {
                        memmove(out + 1, out, (size_t)k);
                        out[0] = '1';
                        k++;
                }
        }
        return k;
}

/* ksqlDB's ROUND(x, places): BigDecimal.valueOf(x).setScale(places,
 * x > 0 ? HALF_UP : HALF_DOWN).doubleValue(); ties toward +infinity. */
static double round_places(double v, int64_t places)
{
        if (v == 0)
                return 0.0; /* BigDecimal has no negative zero */
        char d[24], out[48], txt[64];
        int x, n = shortest_digits(v, d, &x);
        int q = places > 400 ? 400 : places < -400 ? -400 : (int)places;
        if (x + 1 + q >= n)
                return v;
        int k = round_decimal(d, n, x, q, v > 0, out);
        if (k == 0)
                return 0.0;
        size_t len = 0;
        if (v < 0)
                txt[len++] = '-';
        memcpy(txt + len, out, (size_t)k);
        len += (size_t)k;
        txt[len++] = 'e';
        len += put_i64(txt + len, -q);
        txt[len] = '\0';
        return strtod(txt, NULL);
}

/* Java's Math.round: the closest long, ties toward +infinity; NaN 0;
 * saturated at the long range. */
static int64_t java_round(double v)
{
        if (isnan(v))
                return 0;
        if (v >= 9223372036854775808.0)
                return INT64_MAX;
        if (v < -9223372036854775808.0)
                return INT64_MIN;
        double r = floor(v);
        /* r + 0.5 is exact: below 2^52 every double has room for it, and
         * above it v is already an integer. */
        if (v - r != 0 && v >= r + 0.5)
                r += 1;
        return r >= 9223372036854775808.0 ? INT64_MAX : (int64_t)r;
}

/* Java's (long) and (int) casts of a double: truncated, saturated, NaN 0. */
static int64_t java_d2l(double v, double lo, double hi, int64_t min, int64_t max)
{
        if (isnan(v))
                return 0;
        if (v >= hi)
                return max;
        if (v <= lo)
                return min;
        return (int64_t)v;
}

/* Java's String.trim(): every byte <= ' ' at either end. */
static void java_trim(const char **s, uint32_t *n)
{
        while (*n && (unsigned char)(*s)[0] <= ' ') {
                (*s)++;
                (*n)--;
        }
        while (*n && (unsigned char)(*s)[*n - 1] <= ' ')
                (*n)--;
}

/* Long.parseLong / Integer.parseInt of the trimmed text, within [lo, hi]. */
static bool parse_integer(const char *s, uint32_t n, int64_t lo, int64_t hi, int64_t *out)
{
        java_trim(&s, &n);
        bool neg = n && s[0] == '-';
        if (n && (s[0] == '-' || s[0] == '+')) {
                s++;
                n--;
        }
        if (n == 0)
                return false;
        uint64_t limit = neg ? 0 - (uint64_t)lo : (uint64_t)hi, u = 0;
        for (uint32_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                unsigned dg = (unsigned)(s[i] - '0');
                if (u > (limit - dg) / 10)
                        return false;
                u = u * 10 + dg;
        }
        *out = neg ? (int64_t)(0 - u) : (int64_t)u;
        return true;
}

/* Double.parseDouble of the trimmed text: [+-] (NaN | Infinity | decimal
 * [eE exponent]) [fFdD].  Hexadecimal floats are not accepted. */
__attribute__((noinline)) static bool parse_double(const char *s, uint32_t n, double *out)
{
        char tmp[1024];
        java_trim(&s, &n);
        if (n && (s[n - 1] == 'f' || s[n - 1] == 'F' || s[n - 1] == 'd' || s[n - 1] == 'D'))
                n--;
        uint32_t i = n && (s[0] == '-' || s[0] == '+') ? 1 : 0;
        bool neg = i && s[0] == '-';
        if (n - i == 3 && memcmp(s + i, "NaN", 3) == 0) {
                *out = NAN;
                return true;
        }
        if (n - i == 8 && memcmp(s + i, "Infinity", 8) == 0) {
                *out = neg ? -INFINITY : INFINITY;
                return true;
        }
        uint32_t digits = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
                i++, digits++;
        if (i < n && s[i] == '.')
                for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
                        digits++;
        if (digits == 0)
                return false;
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
                i++;
                if (i < n && (s[i] == '-' || s[i] == '+'))
                        i++;
                uint32_t ed = 0;
                while (i < n && s[i] >= '0' && s[i] <= '9')
                        i++, ed++;
                if (ed == 0)
                        return false;
        }
        if (i != n || n >= sizeof tmp)
                return false;
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        *out = strtod(tmp, NULL);
        return true;
}

static bool parse_bool(const char *s, uint32_t n)
{
        java_trim(&s, &n);
        return n == 4 && strncasecmp(s, "true", 4) == 0;
}

/* Java's Double.compare: -0.0 < 0.0, NaN above everything and equal to itself. */
static int java_dcmp(double a, double b)
{
        if (a < b)
                return -1;
        if (a > b)
                return 1;
        bool an = isnan(a), bn = isnan(b);
        if (an || bn)
                return (int)an - (int)bn;
        return (int)(signbit(b) != 0) - (int)(signbit(a) != 0);
}

static int scmp(const struct sl_value *l, const struct sl_value *r)
{
        uint32_t n = l->u.s.len < r->u.s.len ? l->u.s.len : r->u.s.len;
        int c = n ? memcmp(l->u.s.p, r->u.s.p, n) : 0;
        if (c == 0)
                c = (l->u.s.len > r->u.s.len) - (l->u.s.len < r->u.s.len);
        return c;
}

/* ---- run time: the scratch ------------------------------------------- */

/*
 * The calling thread's scratch.  It keeps no state between instructions:
 * what is in use is exactly what the stack entries point to, so a new
 * result goes past the last of those, and whatever an earlier evaluation
 * left is simply overwritten.
 */
static _Thread_local char scratch[SL_EXPR_SCRATCH];

/* A string being built. */
struct sb {
        char *p;
        uint32_t len, cap;
        bool over;
        uint32_t hw; /* end of the strings still held below the operands */
};

/* Where the string of v ends in the scratch; 0 if it is not there. */
static uint32_t scratch_end(const struct sl_value *v)
{
        uintptr_t a = (uintptr_t)v->u.s.p, b = (uintptr_t)scratch;
        if (v->type != SL_T_STRING || a < b || a >= b + SL_EXPR_SCRATCH)
                return 0;
        return (uint32_t)(a - b) + v->u.s.len;
}

/*
 * Starts a result that consumes the top k stack entries: it is written
 * past every string on the stack, operands included, and will slide down
 * to hw, the end of the strings of the entries that stay.
 */
static void sb_begin(const struct sl_value *st, uint32_t top, uint32_t k, struct sb *b)
{
        uint32_t used = 0;
        b->hw = 0;
        for (uint32_t j = 1; j <= top; j++) {
                if (j + k == top + 1)
                        b->hw = used; /* the end of the entries below the operands */
                uint32_t end = scratch_end(&st[j]);
                if (end > used)
                        used = end;
        }
        if (k == 0)
                b->hw = used;
        uint32_t room = SL_EXPR_SCRATCH - used;
        b->p = scratch + used;
        b->len = 0;
        b->cap = room < SL_EXPR_STR_MAX ? room : SL_EXPR_STR_MAX;
        b->over = false;
}

static void sb_put(struct sb *b, const char *s, size_t n)
{
        if (n > b->cap - b->len) {
                b->over = true;
                return;
        }
        memcpy(b->p + b->len, s, n);
        b->len += (uint32_t)n;
}

static void sb_fill(struct sb *b, char c, size_t n)
{
        if (n > b->cap - b->len) {
                b->over = true;
                return;
        }
        memset(b->p + b->len, c, n);
        b->len += (uint32_t)n;
}

static void sb_end(const struct sl_prog *p, struct sb *b, struct sl_value *out)
{
        if (b->over) {
                atomic_fetch_add_explicit(&((struct sl_prog *)p)->overflows, 1,
                                          memory_order_relaxed);
                out->type = SL_T_NULL;
                return;
        }
        char *dst = scratch + b->hw;
        if (dst != b->p && b->len)
                memmove(dst, b->p, b->len);
        out->type = SL_T_STRING;
        out->u.s.p = dst;
        out->u.s.len = b->len;
}

/* The text of a value of static type t (not NULL) for CAST and %s. */
static void put_text(struct sb *b, enum sl_type t, const struct sl_value *v)
{
        char tmp[40];
        switch (t) {
        case SL_T_STRING:
                sb_put(b, v->u.s.p, v->u.s.len);
                return;
        case SL_T_BOOL:
                sb_put(b, v->u.b ? "true" : "false", v->u.b ? 4 : 5);
                return;
        case SL_T_DOUBLE:
                sb_put(b, tmp, java_double(v->u.d, tmp));
                return;
        default:
                sb_put(b, tmp, put_i64(tmp, v->u.i));
                return;
        }
}

/* ---- run time: FORMAT ------------------------------------------------ */

static void pad_text(struct sb *b, const struct fmt_piece *pc, const char *s, size_t n,
                     size_t chars)
{
        size_t pad = pc->width > chars ? pc->width - chars : 0;
        if (!(pc->flags & FF_MINUS))
                sb_fill(b, ' ', pad);
        sb_put(b, s, n);
        if (pc->flags & FF_MINUS)
                sb_fill(b, ' ', pad);
}

/* sign, then digits (zero-padded under '0'), justified to the width. */
static void pad_number(struct sb *b, const struct fmt_piece *pc, bool neg, const char *digits,
                       size_t n, bool zero_ok)
{
        char sign = neg ? '-' : pc->flags & FF_PLUS ? '+' : pc->flags & FF_SPACE ? ' ' : 0;
        size_t len = n + (sign != 0), pad = pc->width > len ? pc->width - len : 0;
        bool zeros = zero_ok && (pc->flags & FF_ZERO);
        if (!zeros && !(pc->flags & FF_MINUS))
                sb_fill(b, ' ', pad);
        if (sign)
                sb_put(b, &sign, 1);
        if (zeros)
                sb_fill(b, '0', pad);
        sb_put(b, digits, n);
        if (pc->flags & FF_MINUS)
                sb_fill(b, ' ', pad);
}

/* Copies the integer digits in[0..n) to out, with ',' every three if asked. */
static size_t group(const char *in, size_t n, bool comma, char *out)
{
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
                if (comma && i && (n - i) % 3 == 0)
                        out[o++] = ',';
                out[o++] = in[i];
        }
        return o;
}

static void format_d(struct sb *b, const struct fmt_piece *pc, int64_t v)
{
        char dg[24], out[32];
        uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
        size_t n = put_u64(dg, mag);
        pad_number(b, pc, v < 0, out, group(dg, n, pc->flags & FF_COMMA, out), true);
}

/* %f as java.util.Formatter: the shortest decimal rounded half-up. */
static void format_f(struct sb *b, const struct fmt_piece *pc, double v)
{
        if (isnan(v)) {
                pad_text(b, pc, "NaN", 3, 3);
                return;
        }
        if (isinf(v)) {
                pad_number(b, pc, v < 0, "Infinity", 8, false);
                return;
        }
        char d[24], r[FMT_MAX_PREC + 340], out[2 * (FMT_MAX_PREC + 340)];
        int q = pc->prec, k = 0, x = 0;
        if (v != 0) {
                int n = shortest_digits(v, d, &x);
                k = round_decimal(d, n, x, q, true, r);
        }
        /* r[0..k) in units of 10^-q: the integer part is all but q digits. */
        size_t o = 0;
        if (k > q) {
                o = group(r, (size_t)(k - q), pc->flags & FF_COMMA, out);
        } else {
                out[o++] = '0';
        }
        if (q > 0) {
                out[o++] = '.';
                for (int i = 0; i < q; i++) {
                        int j = k - q + i;
                        out[o++] = j >= 0 ? r[j] : '0';
                }
        }
        pad_number(b, pc, signbit(v) != 0, out, o, true);
}

static void run_format(const struct sl_prog *p, const struct fmt *fm, struct sl_value *st,
                       uint32_t top, struct sl_value *out)
{
        struct sb b;
        sb_begin(st, top, fm->nconv, &b);
        const struct sl_value *arg = &st[top + 1 - fm->nconv];
        for (uint32_t i = 0; i < fm->npiece; i++) {
                const struct fmt_piece *pc = &fm->piece[i];
                sb_put(&b, fm->text + pc->off, pc->len);
                if (!pc->conv)
                        break;
                const struct sl_value *v = arg++;
                if (v->type == SL_T_NULL) {
                        pad_text(&b, pc, "null", 4, 4);
                } else if (pc->conv == 'd') {
                        format_d(&b, pc, v->u.i);
                } else if (pc->conv == 'f') {
                        format_f(&b, pc, pc->type == SL_T_DOUBLE ? v->u.d : (double)v->u.i);
                } else if (pc->width == 0) {
                        put_text(&b, (enum sl_type)pc->type, v);
                } else {
                        /* Pad to the width in characters: build, then count. */
                        uint32_t from = b.len;
                        put_text(&b, (enum sl_type)pc->type, v);
                        if (b.over)
                                break;
                        size_t chars = 0;
                        for (uint32_t j = from; j < b.len; j++)
                                chars += ((unsigned char)b.p[j] & 0xC0) != 0x80;
                        size_t pad = pc->width > chars ? pc->width - chars : 0;
                        if (!(pc->flags & FF_MINUS) && pad) {
                                uint32_t n = b.len - from;
                                sb_fill(&b, ' ', pad);
                                if (!b.over) {
                                        memmove(b.p + from + pad, b.p + from, n);
                                        memset(b.p + from, ' ', pad);
                                }
                        } else {
                                sb_fill(&b, ' ', pad);
                        }
                }
        }
        sb_end(p, &b, out);
}

/* ---- run time: functions --------------------------------------------- */

/* Picks the non-NULL least (sign -1) or greatest (+1) of n operands. */
static uint32_t run_pick(const struct insn *in, struct sl_value *st, uint32_t top)
{
        uint32_t n = in->a;
        struct sl_value *v = &st[top + 1 - n], *best = NULL;
        int sign = in->op >= OP_GREATEST_I ? 1 : -1;
        enum op kind = (enum op)(in->op >= OP_GREATEST_I ? in->op - OP_GREATEST_I + OP_LEAST_I : in->op);
        for (uint32_t i = 0; i < n; i++) {
                if (v[i].type == SL_T_NULL)
                        continue;
                int c = 0;
                if (best) {
                        if (kind == OP_LEAST_I)
                                c = (v[i].u.i > best->u.i) - (v[i].u.i < best->u.i);
                        else if (kind == OP_LEAST_D)
                                c = java_dcmp(v[i].u.d, best->u.d);
                        else
                                c = scmp(&v[i], best);
                }
                if (!best || c * sign > 0)
                        best = &v[i];
        }
        v[0] = best ? *best : (struct sl_value){.type = SL_T_NULL};
        return top + 1 - n;
}

static uint32_t run_concat(const struct sl_prog *p, const struct insn *in, struct sl_value *st,
                           uint32_t top)
{
        uint32_t n = in->a;
        struct sl_value *v = &st[top + 1 - n];
        if (in->cmp) {
                for (uint32_t i = 0; i < n; i++) {
                        if (v[i].type == SL_T_NULL) {
                                v[0].type = SL_T_NULL;
                                return top + 1 - n;
                        }
                }
        }
        struct sb b;
        sb_begin(st, top, n, &b);
        for (uint32_t i = 0; i < n; i++)
                if (v[i].type != SL_T_NULL)
                        sb_put(&b, v[i].u.s.p, v[i].u.s.len);
        sb_end(p, &b, &v[0]);
        return top + 1 - n;
}

static void run_cast(const struct sl_prog *p, const struct insn *in, struct sl_value *st,
                     uint32_t top)
{
        struct sl_value *r = &st[top];
        if (r->type == SL_T_NULL)
                return;
        int64_t i;
        double d;
        struct sb b;
        switch ((enum cast)in->cmp) {
        case CAST_L2I:
                r->u.i = (int32_t)(uint32_t)(uint64_t)r->u.i;
                r->type = SL_T_INT;
                return;
        case CAST_D2I:
                r->u.i = java_d2l(r->u.d, -2147483648.0, 2147483647.0, INT32_MIN, INT32_MAX);
                r->type = SL_T_INT;
                return;
        case CAST_D2L:
                r->u.i = java_d2l(r->u.d, -9223372036854775808.0, 9223372036854775808.0,
                                  INT64_MIN, INT64_MAX);
                r->type = SL_T_BIGINT;
                return;
        case CAST_B2S:
        case CAST_I2S:
        case CAST_D2S:
                sb_begin(st, top, 1, &b);
                put_text(&b, in->cmp == CAST_B2S ? SL_T_BOOL : in->cmp == CAST_D2S ? SL_T_DOUBLE
                                                                                 : SL_T_BIGINT, r);
                sb_end(p, &b, r);
                return;
        case CAST_S2B:
                r->u.b = parse_bool(r->u.s.p, r->u.s.len);
                r->type = SL_T_BOOL;
                return;
        case CAST_S2I:
        case CAST_S2L: {
                bool narrow = in->cmp == CAST_S2I;
                if (parse_integer(r->u.s.p, r->u.s.len, narrow ? INT32_MIN : INT64_MIN,
                                  narrow ? INT32_MAX : INT64_MAX, &i)) {
                        r->u.i = i;
                        r->type = narrow ? SL_T_INT : SL_T_BIGINT;
                } else {
                        r->type = SL_T_NULL;
                }
                return;
        }
        case CAST_S2D:
                if (parse_double(r->u.s.p, r->u.s.len, &d)) {
                        r->u.d = d;
                        r->type = SL_T_DOUBLE;
                } else {
                        r->type = SL_T_NULL;
                }
                return;
        }
}

/* The function instructions; returns the new top. */
__attribute__((noinline)) static uint32_t run_func(const struct sl_prog *p, const struct insn *in,
                                                   struct sl_value *st, uint32_t top)
{
        struct sl_value *r = &st[top];
        switch ((enum op)in->op) {
        case OP_ABS_I:
                if (r->type != SL_T_NULL) {
                        /* Math.abs(Long.MIN_VALUE) is Long.MIN_VALUE. */
                        r->u.i = r->u.i < 0 ? (int64_t)(0 - (uint64_t)r->u.i) : r->u.i;
                        r->type = SL_T_BIGINT;
                }
                return top;
        case OP_ABS_D:
                if (r->type != SL_T_NULL)
                        r->u.d = fabs(r->u.d);
                return top;
        case OP_CEIL_D:
                if (r->type != SL_T_NULL)
                        r->u.d = ceil(r->u.d);
                return top;
        case OP_FLOOR_D:
                if (r->type != SL_T_NULL)
                        r->u.d = floor(r->u.d);
                return top;
        case OP_ROUND_D:
                if (r->type != SL_T_NULL) {
                        r->u.i = java_round(r->u.d);
                        r->type = SL_T_BIGINT;
                }
                return top;
        case OP_ROUND_DN: {
                struct sl_value *l = &st[top - 1];
                if (l->type != SL_T_NULL && r->type == SL_T_NULL)
                        l->type = SL_T_NULL;
                /* NaN and infinities have no decimal: ksqlDB fails, so NULL. */
                else if (l->type != SL_T_NULL && !isfinite(l->u.d))
                        l->type = SL_T_NULL;
                else if (l->type != SL_T_NULL)
                        l->u.d = round_places(l->u.d, r->u.i);
                return top - 1;
        }
        case OP_LEAST_I:
        case OP_LEAST_D:
        case OP_LEAST_S:
        case OP_GREATEST_I:
        case OP_GREATEST_D:
        case OP_GREATEST_S:
                return run_pick(in, st, top);
        case OP_CONCAT:
                return run_concat(p, in, st, top);
        case OP_CAST:
                run_cast(p, in, st, top);
                return top;
        case OP_FORMAT: {
                const struct fmt *fm = &p->fmts[in->a];
                uint32_t base = top - fm->nconv;
                run_format(p, fm, st, top, &st[base + 1]);
                return base + 1;
        }
        default:
                return top;
        }
}

static int cmp3(int c, uint8_t op)
{
        switch (op) {
        case SL_OP_EQ: return c == 0;
        case SL_OP_NE: return c != 0;
        case SL_OP_LT: return c < 0;
        case SL_OP_LE: return c <= 0;
        case SL_OP_GT: return c > 0;
        default: return c >= 0;
        }
}

void sl_prog_eval(const struct sl_prog *p, const struct sl_value *env,
                  struct sl_value *out)
{
        /* st[0] is never used: top indexes the top of the stack, and a
         * binary operator's left operand st[top - 1] always exists. */
        struct sl_value st[SL_PROG_MAX_STACK + 1];
        uint32_t top = 0;

        /* Locals, so that the calls of run_func() force no reloads. */
        const struct insn *insn = p->insn, *end = insn + p->ninsn;

        for (const struct insn *in = insn; in < end; in++) {
                switch ((enum op)in->op) {
                case OP_LOAD:
                        st[++top] = env[in->a];
                        continue;
                case OP_CONST:
                        st[++top] = p->consts[in->a];
                        continue;
                default:
                        break;
                }
                struct sl_value *l = &st[top - 1], *r = &st[top];
                switch ((enum op)in->op) {
                case OP_NOP:
                        continue;
                /* A jump lands on insn[a]; the loop's in++ follows. */
                case OP_JMP:
                        in = insn + in->a - 1;
                        continue;
                case OP_JNT:
                        if (!(r->type == SL_T_BOOL && r->u.b))
                                in = insn + in->a - 1;
                        top--;
                        continue;
                case OP_JNN:
                        if (r->type != SL_T_NULL)
                                in = insn + in->a - 1;
                        else
                                top--;
                        continue;
                case OP_DUP:
                        st[top + 1] = *r;
                        top++;
                        continue;
                case OP_POP:
                        top--;
                        continue;
                case OP_ABS_I: case OP_ABS_D: case OP_CEIL_D: case OP_FLOOR_D:
                case OP_ROUND_D: case OP_ROUND_DN:
                case OP_LEAST_I: case OP_LEAST_D: case OP_LEAST_S:
                case OP_GREATEST_I: case OP_GREATEST_D: case OP_GREATEST_S:
                case OP_CONCAT: case OP_CAST: case OP_FORMAT:
                        top = run_func(p, in, st, top);
                        continue;
                case OP_I2D: {
                        struct sl_value *x = &st[top - in->a];
                        if (x->type != SL_T_NULL) {
                                x->u.d = (double)x->u.i;
                                x->type = SL_T_DOUBLE;
                        }
                        continue;
                }
                case OP_NEG_I:
                        if (r->type != SL_T_NULL) {
                                r->u.i = (int64_t)(0 - (uint64_t)r->u.i);
                                r->type = SL_T_BIGINT;
                        }
                        continue;
                case OP_NEG_D:
                        if (r->type != SL_T_NULL)
                                r->u.d = -r->u.d;
                        continue;
                case OP_NOT:
                        if (r->type != SL_T_NULL)
                                r->u.b = !r->u.b;
                        continue;
                case OP_IS_NULL:
                        r->u.b = r->type == SL_T_NULL;
                        r->type = SL_T_BOOL;
                        continue;
                case OP_IS_NOT_NULL:
                        r->u.b = r->type != SL_T_NULL;
                        r->type = SL_T_BOOL;
                        continue;
                case OP_AND:
                        top--;
                        /* FALSE wins over NULL; NULL wins over TRUE. */
                        if ((l->type == SL_T_BOOL && !l->u.b) ||
                            (r->type == SL_T_BOOL && !r->u.b)) {
                                l->type = SL_T_BOOL;
                                l->u.b = false;
                        } else if (l->type == SL_T_NULL || r->type == SL_T_NULL) {
                                l->type = SL_T_NULL;
                        } else {
                                l->u.b = true;
                        }
                        continue;
                case OP_OR:
                        top--;
                        if ((l->type == SL_T_BOOL && l->u.b) ||
                            (r->type == SL_T_BOOL && r->u.b)) {
                                l->type = SL_T_BOOL;
                                l->u.b = true;
                        } else if (l->type == SL_T_NULL || r->type == SL_T_NULL) {
                                l->type = SL_T_NULL;
                        } else {
                                l->u.b = false;
                        }
                        continue;
                default:
                        break;
                }
                /* Binary operators: NULL in, NULL out. */
                top--;
                if (l->type == SL_T_NULL || r->type == SL_T_NULL) {
                        l->type = SL_T_NULL;
                        continue;
                }
                int64_t a = l->u.i, b = r->u.i;
                switch ((enum op)in->op) {
                case OP_ADD_I:
                        l->u.i = (int64_t)((uint64_t)a + (uint64_t)b);
                        l->type = SL_T_BIGINT;
                        break;
                case OP_SUB_I:
                        l->u.i = (int64_t)((uint64_t)a - (uint64_t)b);
                        l->type = SL_T_BIGINT;
                        break;
                case OP_MUL_I:
                        l->u.i = (int64_t)((uint64_t)a * (uint64_t)b);
                        l->type = SL_T_BIGINT;
                        break;
                case OP_DIV_I:
                case OP_MOD_I:
                        if (b == 0) {
                                l->type = SL_T_NULL;
                        } else if (b == -1) {
                                /* INT64_MIN / -1 overflows: wrap like Java. */
                                l->u.i = in->op == OP_DIV_I ? (int64_t)(0 - (uint64_t)a) : 0;
                        } else {
                                l->u.i = in->op == OP_DIV_I ? a / b : a % b;
                        }
                        l->type = l->type == SL_T_NULL ? SL_T_NULL : SL_T_BIGINT;
                        break;
                case OP_ADD_D:
                        l->u.d += r->u.d;
                        break;
                case OP_SUB_D:
                        l->u.d -= r->u.d;
                        break;
                case OP_MUL_D:
                        l->u.d *= r->u.d;
                        break;
                case OP_DIV_D:
                        l->u.d /= r->u.d;
                        break;
                case OP_MOD_D:
                        /* Java's % on doubles is C's fmod. */
                        l->u.d = fmod(l->u.d, r->u.d);
                        break;
                case OP_CMP_I:
                        l->u.b = cmp3((a > b) - (a < b), in->cmp);
                        l->type = SL_T_BOOL;
                        break;
                case OP_CMP_D: {
                        double x = l->u.d, y = r->u.d;
                        /* NaN compares false except with <>, as in Java. */
                        l->u.b = (x != x || y != y) ? in->cmp == SL_OP_NE
                                                    : cmp3((x > y) - (x < y), in->cmp);
                        l->type = SL_T_BOOL;
                        break;
                }
                case OP_CMP_S:
                        l->u.b = cmp3(scmp(l, r), in->cmp);
                        l->type = SL_T_BOOL;
                        break;
                case OP_CMP_B:
                        l->u.b = cmp3(l->u.b != r->u.b, in->cmp);
                        l->type = SL_T_BOOL;
                        break;
                default:
                        break;
                }
        }
        *out = st[top];
}
