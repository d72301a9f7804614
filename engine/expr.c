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
 * Called by the planner (plan.c) at start; sl_prog_eval runs on the
 * dispatcher and worker threads.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/expr.h"

#define SL_PROG_MAX_STACK 64

enum op {
        OP_LOAD,  /* push env[a] */
        OP_CONST, /* push consts[a] */
        OP_I2D,   /* convert stack[top - a] from int to double */
        OP_NEG_I,
        OP_NEG_D,
        OP_NOT,
        OP_ADD_I, OP_SUB_I, OP_MUL_I, OP_DIV_I, OP_MOD_I,
        OP_ADD_D, OP_SUB_D, OP_MUL_D, OP_DIV_D, OP_MOD_D,
        OP_CMP_I, /* a = comparison (enum sl_op) */
        OP_CMP_D,
        OP_CMP_S,
        OP_CMP_B,
        OP_AND,
        OP_OR,
        OP_IS_NULL,
        OP_IS_NOT_NULL,
};

struct insn {
        uint8_t op;
        uint8_t cmp; /* OP_CMP_*: enum sl_op */
        uint16_t a;
};

struct sl_prog {
        enum sl_type type;
        uint32_t ninsn;
        uint32_t nconst;
        uint32_t depth;
        struct insn *insn;
        struct sl_value *consts;
        char *strings; /* bytes of string constants */
};

struct compiler {
        struct sl_prog *p;
        uint32_t cap_insn, cap_const;
        uint32_t sp, max_sp;
        sl_expr_resolve_fn resolve;
        void *ctx;
        struct sl_expr_error *err;
        uint32_t depth;
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

static int emit(struct compiler *c, enum op op, uint16_t a, uint8_t cmp)
{
        if (c->p->ninsn == c->cap_insn) {
                uint32_t cap = c->cap_insn ? c->cap_insn * 2 : 16;
                struct insn *n = realloc(c->p->insn, cap * sizeof *n);
                if (!n)
                        return -ENOMEM;
                c->p->insn = n;
                c->cap_insn = cap;
        }
        c->p->insn[c->p->ninsn++] = (struct insn){.op = op, .a = a, .cmp = cmp};
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

static int add_const(struct compiler *c, const struct sl_value *v)
{
        if (c->p->nconst == c->cap_const) {
                uint32_t cap = c->cap_const ? c->cap_const * 2 : 8;
                struct sl_value *n = realloc(c->p->consts, cap * sizeof *n);
                if (!n)
                        return -ENOMEM;
                c->p->consts = n;
                c->cap_const = cap;
        }
        c->p->consts[c->p->nconst] = *v;
        return (int)c->p->nconst++;
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
        case SL_OP_NONE: break;
        }
        return "?";
}

static int compile(struct compiler *c, const struct sl_expr *e,
                   enum sl_type *type);

static int compile_binary(struct compiler *c, const struct sl_expr *e,
                          enum sl_type *type)
{
        enum sl_type lt, rt;
        int rc = compile(c, e->args[0], &lt);
        if (rc == 0)
                rc = compile(c, e->args[1], &rt);
        if (rc)
                return rc;
        enum sl_op op = e->op;
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
        bool num = sl_type_is_numeric(lt) && sl_type_is_numeric(rt);
        bool dbl = num && (lt == SL_T_DOUBLE || rt == SL_T_DOUBLE);
        if (dbl && lt != SL_T_DOUBLE && lt != SL_T_NULL)
                rc = emit(c, OP_I2D, 1, 0);
        if (rc == 0 && dbl && rt != SL_T_DOUBLE && rt != SL_T_NULL)
                rc = emit(c, OP_I2D, 0, 0);
        if (rc)
                return rc;
        c->sp--;
        if (op >= SL_OP_EQ && op <= SL_OP_GE) {
                enum op cop;
                if (num)
                        cop = dbl ? OP_CMP_D : OP_CMP_I;
                else if (lt == SL_T_STRING && rt == SL_T_STRING)
                        cop = OP_CMP_S;
                else if (lt == SL_T_BOOL && rt == SL_T_BOOL &&
                         (op == SL_OP_EQ || op == SL_OP_NE))
                        cop = OP_CMP_B;
                else if (lt == SL_T_NULL && rt == SL_T_NULL)
                        cop = OP_CMP_I;
                else
                        return fail(c, e, "cannot compare %s with %s", ltn, rtn);
                *type = SL_T_BOOL;
                return emit(c, cop, 0, (uint8_t)op);
        }
        if (!num && !(lt == SL_T_NULL && rt == SL_T_NULL))
                return fail(c, e, "operator %s cannot be applied to %s and %s",
                            op_text(op), ltn, rtn);
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

static int compile(struct compiler *c, const struct sl_expr *e,
                   enum sl_type *type)
{
        struct sl_value v = {0};
        int rc, k;

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
                v.u.s.len = e->u.s.len;
                v.u.s.p = NULL; /* fixed up in sl_expr_compile */
                goto constant;
        case SL_EX_COLUMN:
        case SL_EX_WINDOWSTART:
        case SL_EX_WINDOWEND:
        case SL_EX_CALL: {
                int slot = c->resolve(c->ctx, e, type, c->err->msg,
                                      sizeof c->err->msg);
                if (slot < 0) {
                        c->err->pos = e->pos;
                        return -EINVAL;
                }
                if ((rc = push(c, e)) != 0)
                        return rc;
                rc = emit(c, OP_LOAD, (uint16_t)slot, 0);
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
        default:
                return fail(c, e, "unsupported expression");
        }
        c->depth--;
        return rc;
constant:
        if ((rc = push(c, e)) != 0)
                return rc;
        if ((k = add_const(c, &v)) < 0)
                return k;
        *type = v.type;
        c->depth--;
        return emit(c, OP_CONST, (uint16_t)k, 0);
}

/* String constants are copied into one block once the program is built,
 * so the program owns them and the AST can be freed. */
static int collect_strings(struct sl_prog *p, const struct sl_expr *e,
                           uint32_t *k, size_t *off, bool copy)
{
        if (!e)
                return 0;
        switch (e->kind) {
        case SL_EX_INT:
        case SL_EX_DOUBLE:
        case SL_EX_BOOL:
        case SL_EX_NULL:
                (*k)++;
                return 0;
        case SL_EX_STRING:
                if (copy) {
                        memcpy(p->strings + *off, e->u.s.p, e->u.s.len);
                        p->consts[*k].u.s.p = p->strings + *off;
                }
                *off += e->u.s.len;
                (*k)++;
                return 0;
        case SL_EX_COLUMN:
        case SL_EX_WINDOWSTART:
        case SL_EX_WINDOWEND:
        case SL_EX_CALL:
                return 0; /* resolved to a slot: arguments are not compiled here */
        default:
                for (uint32_t i = 0; i < e->nargs; i++)
                        collect_strings(p, e->args[i], k, off, copy);
                return 0;
        }
}

struct sl_prog *sl_expr_compile(const struct sl_expr *e,
                                sl_expr_resolve_fn resolve, void *ctx,
                                struct sl_expr_error *err)
{
        struct sl_prog *p = calloc(1, sizeof *p);
        if (!p)
                goto oom;
        struct compiler c = {.p = p, .resolve = resolve, .ctx = ctx, .err = err};
        enum sl_type t;
        int rc = compile(&c, e, &t);
        if (rc == -ENOMEM)
                goto oom;
        if (rc)
                goto fail;
        p->type = t;
        p->depth = c.max_sp;
        uint32_t k = 0;
        size_t len = 0;
        collect_strings(p, e, &k, &len, false);
        p->strings = malloc(len ? len : 1);
        if (!p->strings)
                goto oom;
        k = 0;
        len = 0;
        collect_strings(p, e, &k, &len, true);
        return p;
oom:
        err->pos = e->pos;
        snprintf(err->msg, sizeof err->msg, "out of memory");
fail:
        sl_prog_free(p);
        return NULL;
}

void sl_prog_free(struct sl_prog *p)
{
        if (!p)
                return;
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

        for (uint32_t i = 0; i < p->ninsn; i++) {
                const struct insn *in = &p->insn[i];
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
                case OP_CMP_S: {
                        uint32_t n = l->u.s.len < r->u.s.len ? l->u.s.len : r->u.s.len;
                        int c = n ? memcmp(l->u.s.p, r->u.s.p, n) : 0;
                        if (c == 0)
                                c = (l->u.s.len > r->u.s.len) - (l->u.s.len < r->u.s.len);
                        l->u.b = cmp3(c, in->cmp);
                        l->type = SL_T_BOOL;
                        break;
                }
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
