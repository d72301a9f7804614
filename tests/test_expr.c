/*
 * test_expr.c - cmocka tests of engine/expr.{h,c}: compiling expression
 * trees and evaluating the programs.
 *
 * Trees are built by hand (every node with its own line/column, so that
 * error positions can be checked) and resolved against a small
 * environment of typed columns:
 *
 *   slot 0 i BIGINT   1 d DOUBLE   2 s STRING   3 b BOOLEAN   4 n INTEGER
 *   slot 5 p BOOLEAN  6 q BOOLEAN  7 j BIGINT
 *
 * Every case checks the result type and value (or the NULL tag), and
 * every error case the message and the position of the node at fault.
 *
 * Regression (fixed in expr.c): sl_prog_eval started its stack pointer at st - 1 (and forms sp - 1
 * below that for the first operand), a pointer before the array: undefined
 * behaviour, which clang -fsanitize=undefined reports on the first
 * evaluation ("index -1 out of bounds for type 'struct sl_value[64]'",
 * expr.c, `struct sl_value *sp = st - 1`).  Every case here triggers it;
 * the sanitizer run shows it, no assertion can.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/expr.h"

/* ---- tree building ------------------------------------------------- */

#define MAX_NODES 4096
static struct sl_expr *nodes[MAX_NODES];
static size_t nnodes;
static uint32_t next_col = 1;

static struct sl_expr *node(enum sl_expr_kind kind)
{
        assert_true(nnodes < MAX_NODES);
        struct sl_expr *e = calloc(1, sizeof *e);
        assert_non_null(e);
        e->kind = kind;
        e->pos = (struct sl_pos){1, next_col++};
        nodes[nnodes++] = e;
        return e;
}

static void free_nodes(void)
{
        for (size_t i = 0; i < nnodes; i++) {
                free(nodes[i]->args);
                free(nodes[i]);
        }
        nnodes = 0;
        next_col = 1;
}

static int teardown(void **state)
{
        (void)state;
        free_nodes();
        return 0;
}

static struct sl_expr *I(int64_t v)
{
        struct sl_expr *e = node(SL_EX_INT);
        e->u.i = v;
        return e;
}

static struct sl_expr *D(double v)
{
        struct sl_expr *e = node(SL_EX_DOUBLE);
        e->u.d = v;
        return e;
}

static struct sl_expr *S(const char *s)
{
        struct sl_expr *e = node(SL_EX_STRING);
        e->u.s.p = s;
        e->u.s.len = (uint32_t)strlen(s);
        return e;
}

static struct sl_expr *B(bool v)
{
        struct sl_expr *e = node(SL_EX_BOOL);
        e->u.b = v;
        return e;
}

static struct sl_expr *NUL(void)
{
        return node(SL_EX_NULL);
}

static struct sl_expr *COL(const char *name)
{
        struct sl_expr *e = node(SL_EX_COLUMN);
        e->name = name;
        return e;
}

static struct sl_expr *UN(enum sl_op op, struct sl_expr *a)
{
        struct sl_expr *e = node(SL_EX_UNARY);
        e->op = op;
        e->nargs = 1;
        e->args = calloc(1, sizeof *e->args);
        e->args[0] = a;
        return e;
}

static struct sl_expr *BIN(struct sl_expr *a, enum sl_op op, struct sl_expr *b)
{
        struct sl_expr *e = node(SL_EX_BINARY);
        e->op = op;
        e->nargs = 2;
        e->args = calloc(2, sizeof *e->args);
        e->args[0] = a;
        e->args[1] = b;
        return e;
}

static struct sl_expr *ISNULL(struct sl_expr *a, bool negated)
{
        struct sl_expr *e = node(SL_EX_IS_NULL);
        e->negated = negated;
        e->nargs = 1;
        e->args = calloc(1, sizeof *e->args);
        e->args[0] = a;
        return e;
}

/* ---- environment --------------------------------------------------- */

static const struct {
        const char *name;
        enum sl_type type;
} cols[] = {
        {"i", SL_T_BIGINT}, {"d", SL_T_DOUBLE}, {"s", SL_T_STRING}, {"b", SL_T_BOOL},
        {"n", SL_T_INT},    {"p", SL_T_BOOL},   {"q", SL_T_BOOL},   {"j", SL_T_BIGINT},
};
#define NCOLS (sizeof cols / sizeof cols[0])

static int resolve_calls;

static int resolve(void *ctx, const struct sl_expr *e, enum sl_type *type,
                   char *err, size_t errlen)
{
        (void)ctx;
        resolve_calls++;
        if (e->kind == SL_EX_WINDOWSTART) {
                *type = SL_T_BIGINT;
                return 7;
        }
        if (e->kind != SL_EX_COLUMN) {
                snprintf(err, errlen, "not here");
                return -1;
        }
        for (size_t i = 0; i < NCOLS; i++)
                if (strcmp(cols[i].name, e->name) == 0) {
                        *type = cols[i].type;
                        return (int)i;
                }
        snprintf(err, errlen, "no column '%s'", e->name);
        return -1;
}

static struct sl_value env[NCOLS];

static void env_reset(void)
{
        for (size_t i = 0; i < NCOLS; i++)
                env[i] = (struct sl_value){.type = SL_T_NULL};
}

static void set_i(int slot, int64_t v)
{
        env[slot] = (struct sl_value){.u.i = v, .type = (uint8_t)cols[slot].type};
}

static void set_d(int slot, double v)
{
        env[slot] = (struct sl_value){.u.d = v, .type = SL_T_DOUBLE};
}

static void set_b(int slot, bool v)
{
        env[slot] = (struct sl_value){.u.b = v, .type = SL_T_BOOL};
}

static void set_s(int slot, const char *s, uint32_t len)
{
        env[slot] = (struct sl_value){.u.s = {s, len}, .type = SL_T_STRING};
}

static void set_null(int slot)
{
        env[slot] = (struct sl_value){.type = SL_T_NULL};
}

static struct sl_prog *compile_ok(const struct sl_expr *e)
{
        struct sl_expr_error err = {{0, 0}, ""};
        struct sl_prog *p = sl_expr_compile(e, resolve, NULL, &err);
        if (!p)
                fail_msg("compile failed at %u:%u: %s", err.pos.line, err.pos.col, err.msg);
        return p;
}

/* Compiles, checks the program type, evaluates once over env. */
static struct sl_value eval(const struct sl_expr *e, enum sl_type want_type)
{
        struct sl_prog *p = compile_ok(e);
        assert_int_equal(sl_prog_type(p), want_type);
        struct sl_value v;
        memset(&v, 0x5c, sizeof v);
        sl_prog_eval(p, env, &v);
        sl_prog_free(p);
        return v;
}

static void expect_int(const struct sl_expr *e, int64_t want)
{
        struct sl_value v = eval(e, SL_T_BIGINT);
        /* value.h: INTEGER and BIGINT are one runtime type; the tag of an
         * INTEGER operand may survive arithmetic. */
        assert_true(sl_type_is_int(v.type));
        if (v.u.i != want)
                fail_msg("got %lld, want %lld", (long long)v.u.i, (long long)want);
}

static void expect_double(const struct sl_expr *e, double want)
{
        struct sl_value v = eval(e, SL_T_DOUBLE);
        assert_int_equal(v.type, SL_T_DOUBLE);
        if (isnan(want)) {
                if (!isnan(v.u.d))
                        fail_msg("got %.17g, want NaN", v.u.d);
                return;
        }
        if (memcmp(&v.u.d, &want, sizeof want) != 0)
                fail_msg("got %.17g, want %.17g", v.u.d, want);
}

/* want: 1 true, 0 false, -1 NULL */
static void expect_bool(const struct sl_expr *e, int want)
{
        struct sl_value v = eval(e, SL_T_BOOL);
        if (want < 0) {
                assert_int_equal(v.type, SL_T_NULL);
                return;
        }
        assert_int_equal(v.type, SL_T_BOOL);
        assert_int_equal(v.u.b, want);
}

static void expect_null(const struct sl_expr *e, enum sl_type prog_type)
{
        struct sl_value v = eval(e, prog_type);
        assert_int_equal(v.type, SL_T_NULL);
}

static void expect_error(const struct sl_expr *e, const struct sl_expr *at,
                         const char *msg)
{
        struct sl_expr_error err = {{0, 0}, ""};
        struct sl_prog *p = sl_expr_compile(e, resolve, NULL, &err);
        assert_null(p);
        assert_string_equal(err.msg, msg);
        assert_int_equal(err.pos.line, at->pos.line);
        assert_int_equal(err.pos.col, at->pos.col);
}

/* ---- cases --------------------------------------------------------- */

static void test_constants_and_arith(void **state)
{
        (void)state;
        env_reset();
        expect_int(I(42), 42);
        expect_int(BIN(I(1), SL_OP_ADD, I(2)), 3);
        expect_int(BIN(I(1), SL_OP_SUB, I(5)), -4);
        expect_int(BIN(I(6), SL_OP_MUL, I(-7)), -42);
        expect_int(BIN(I(7), SL_OP_DIV, I(2)), 3);
        expect_int(BIN(I(-7), SL_OP_DIV, I(2)), -3);  /* truncates, as Java */
        expect_int(BIN(I(-7), SL_OP_MOD, I(3)), -1);  /* sign of the dividend */
        expect_int(BIN(I(7), SL_OP_MOD, I(-3)), 1);
        expect_int(UN(SL_OP_NEG, I(5)), -5);
        /* precedence is the tree's: 2 * (3 + 4) and (2 * 3) + 4 */
        expect_int(BIN(I(2), SL_OP_MUL, BIN(I(3), SL_OP_ADD, I(4))), 14);
        expect_int(BIN(BIN(I(2), SL_OP_MUL, I(3)), SL_OP_ADD, I(4)), 10);
        expect_int(BIN(I(10), SL_OP_SUB, BIN(I(4), SL_OP_SUB, I(3))), 9); /* operand order */
        expect_double(D(2.5), 2.5);
        expect_double(BIN(D(1.5), SL_OP_MUL, D(4)), 6.0);
        expect_double(UN(SL_OP_NEG, D(0.0)), -0.0);
        expect_bool(B(true), 1);
        expect_bool(UN(SL_OP_NOT, B(true)), 0);
}

static void test_integer_wrap(void **state)
{
        (void)state;
        env_reset();
        /* BIGINT arithmetic wraps like a Java long; no UB (run under UBSan) */
        expect_int(BIN(I(INT64_MAX), SL_OP_ADD, I(1)), INT64_MIN);
        expect_int(BIN(I(INT64_MIN), SL_OP_SUB, I(1)), INT64_MAX);
        expect_int(BIN(I(INT64_MAX), SL_OP_MUL, I(2)), -2);
        expect_int(UN(SL_OP_NEG, I(INT64_MIN)), INT64_MIN);
        /* INT64_MIN / -1 overflows: wraps to INT64_MIN; the remainder is 0 */
        expect_int(BIN(I(INT64_MIN), SL_OP_DIV, I(-1)), INT64_MIN);
        expect_int(BIN(I(INT64_MIN), SL_OP_MOD, I(-1)), 0);
        expect_int(BIN(I(7), SL_OP_DIV, I(-1)), -7);
        expect_int(BIN(I(-7), SL_OP_MOD, I(-1)), 0);
        /* the same through columns, so nothing is folded by the compiler */
        set_i(0, INT64_MIN);
        set_i(7, -1);
        expect_int(BIN(COL("i"), SL_OP_DIV, COL("j")), INT64_MIN);
        expect_int(BIN(COL("i"), SL_OP_MOD, COL("j")), 0);
        /* INTEGER columns compute in 64 bits */
        set_i(4, 2147483647);
        expect_int(BIN(COL("n"), SL_OP_ADD, I(1)), 2147483648LL);
}

static void test_division_by_zero(void **state)
{
        (void)state;
        env_reset();
        expect_null(BIN(I(5), SL_OP_DIV, I(0)), SL_T_BIGINT);
        expect_null(BIN(I(5), SL_OP_MOD, I(0)), SL_T_BIGINT);
        expect_null(BIN(I(0), SL_OP_DIV, I(0)), SL_T_BIGINT);
        set_i(0, 9);
        set_i(7, 0);
        expect_null(BIN(COL("i"), SL_OP_DIV, COL("j")), SL_T_BIGINT);
        /* the NULL propagates: (9 / 0) + 1 is NULL, (9 / 0) IS NULL true */
        expect_null(BIN(BIN(COL("i"), SL_OP_DIV, COL("j")), SL_OP_ADD, I(1)), SL_T_BIGINT);
        expect_bool(ISNULL(BIN(COL("i"), SL_OP_MOD, COL("j")), false), 1);
        /* doubles follow IEEE 754 */
        expect_double(BIN(D(1), SL_OP_DIV, D(0)), INFINITY);
        expect_double(BIN(D(-1), SL_OP_DIV, D(0)), -INFINITY);
        expect_double(BIN(D(0), SL_OP_DIV, D(0)), NAN);
        expect_double(BIN(I(1), SL_OP_DIV, D(0)), INFINITY); /* promoted */
}

static void test_double_modulo(void **state)
{
        (void)state;
        env_reset();
        expect_double(BIN(D(7.5), SL_OP_MOD, D(2)), 1.5);
        expect_double(BIN(D(-7.5), SL_OP_MOD, D(2)), -1.5);
        expect_double(BIN(I(7), SL_OP_MOD, D(2.5)), 2.0);
}

/*
 * Regression (fixed in expr.c): OP_MOD_D computed x - y * (double)(int64_t)(x / y).  Expected: the
 * remainder of Java's % on doubles, which is C's fmod.  Three failures:
 *   - large quotients lose the remainder: 1e17 % 3.0 gives 0, fmod 1;
 *   - x % 0.0 gives x instead of NaN;
 *   - x % infinity gives NaN instead of x (inf * 0);
 *   - the cast is undefined behaviour when x / y is NaN, infinite or
 *     outside the int64 range (x % 0.0, 1e300 % 3.0): UBSan reports
 *     float-cast-overflow in expr.c.
 */
static void test_double_modulo_large_quotient(void **state)
{
        (void)state;
        env_reset();
        expect_double(BIN(D(1e17), SL_OP_MOD, D(3)), fmod(1e17, 3)); /* 1 */
}

static void test_double_modulo_by_zero(void **state)
{
        (void)state;
        env_reset();
        expect_double(BIN(D(5), SL_OP_MOD, D(0)), NAN);
}

static void test_double_modulo_by_infinity(void **state)
{
        (void)state;
        env_reset();
        expect_double(BIN(D(1), SL_OP_MOD, D(INFINITY)), 1.0);
}

static void test_double_modulo_out_of_int64(void **state)
{
        (void)state;
        env_reset();
        expect_double(BIN(D(1e300), SL_OP_MOD, D(3)), fmod(1e300, 3));
}

static void test_promotion(void **state)
{
        (void)state;
        env_reset();
        set_i(0, 3);
        set_d(1, 0.5);
        set_i(4, 2);
        expect_double(BIN(COL("i"), SL_OP_ADD, COL("d")), 3.5);  /* left converted */
        expect_double(BIN(COL("d"), SL_OP_ADD, COL("i")), 3.5);  /* right converted */
        expect_double(BIN(COL("d"), SL_OP_SUB, COL("i")), -2.5); /* order kept */
        expect_double(BIN(COL("i"), SL_OP_SUB, COL("d")), 2.5);
        expect_double(BIN(I(7), SL_OP_DIV, D(2)), 3.5);
        expect_double(BIN(COL("n"), SL_OP_DIV, COL("d")), 4.0); /* INTEGER too */
        /* conversion below a deeper operand: (i * 2) + d and d + (i * 2) */
        expect_double(BIN(BIN(COL("i"), SL_OP_MUL, I(2)), SL_OP_ADD, COL("d")), 6.5);
        expect_double(BIN(COL("d"), SL_OP_ADD, BIN(COL("i"), SL_OP_MUL, I(2))), 6.5);
        expect_double(BIN(BIN(I(1), SL_OP_ADD, I(2)), SL_OP_DIV,
                          BIN(I(4), SL_OP_MUL, D(1))), 0.75);
        /* a large BIGINT converts to the nearest double */
        expect_double(BIN(I(INT64_MAX), SL_OP_ADD, D(0)), 9223372036854775808.0);
        /* int + int stays BIGINT; INTEGER + INTEGER is BIGINT */
        expect_int(BIN(COL("n"), SL_OP_MUL, COL("n")), 4);
        expect_double(UN(SL_OP_NEG, COL("d")), -0.5);
        expect_int(UN(SL_OP_NEG, COL("n")), -2);
        /* comparisons across int and double */
        expect_bool(BIN(I(1), SL_OP_LT, D(1.5)), 1);
        expect_bool(BIN(D(1.5), SL_OP_LT, I(1)), 0);
        expect_bool(BIN(I(2), SL_OP_EQ, D(2.0)), 1);
        expect_bool(BIN(COL("i"), SL_OP_GT, COL("d")), 1);
        /* 2^53 + 1 vs 2^53 as doubles: equal after conversion */
        expect_bool(BIN(I(9007199254740993LL), SL_OP_EQ, D(9007199254740992.0)), 1);
        /* as integers they differ */
        expect_bool(BIN(I(9007199254740993LL), SL_OP_EQ, I(9007199254740992LL)), 0);
        /* a NULL int converted stays NULL */
        set_null(0);
        expect_null(BIN(COL("i"), SL_OP_ADD, COL("d")), SL_T_DOUBLE);
        expect_null(BIN(COL("d"), SL_OP_MUL, COL("i")), SL_T_DOUBLE);
}

static void test_comparisons(void **state)
{
        (void)state;
        env_reset();
        static const struct {
                enum sl_op op;
                int lt, eq, gt; /* result for a < b, a = b, a > b */
        } ops[] = {
                {SL_OP_EQ, 0, 1, 0}, {SL_OP_NE, 1, 0, 1}, {SL_OP_LT, 1, 0, 0},
                {SL_OP_LE, 1, 1, 0}, {SL_OP_GT, 0, 0, 1}, {SL_OP_GE, 0, 1, 1},
        };
        for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
                enum sl_op op = ops[k].op;
                expect_bool(BIN(I(-1), op, I(1)), ops[k].lt);
                expect_bool(BIN(I(5), op, I(5)), ops[k].eq);
                expect_bool(BIN(I(INT64_MAX), op, I(INT64_MIN)), ops[k].gt);
                expect_bool(BIN(D(-0.5), op, D(0.5)), ops[k].lt);
                expect_bool(BIN(D(0.0), op, D(-0.0)), ops[k].eq);
                expect_bool(BIN(D(INFINITY), op, D(1e308)), ops[k].gt);
                expect_bool(BIN(S("abc"), op, S("abd")), ops[k].lt);
                expect_bool(BIN(S("ab"), op, S("abc")), ops[k].lt); /* prefix first */
                expect_bool(BIN(S(""), op, S("")), ops[k].eq);
                expect_bool(BIN(S("b"), op, S("abc")), ops[k].gt);
                /* bytes compare unsigned: UTF-8 'é' (0xc3 0xa9) sorts after 'z' */
                expect_bool(BIN(S("\xc3\xa9"), op, S("z")), ops[k].gt);
                /* NaN: false except <> */
                expect_bool(BIN(D(NAN), op, D(NAN)), op == SL_OP_NE);
                expect_bool(BIN(D(NAN), op, I(1)), op == SL_OP_NE);
                /* NULL on either side: NULL */
                expect_bool(BIN(NUL(), op, I(1)), -1);
                expect_bool(BIN(S("x"), op, NUL()), -1);
                expect_bool(BIN(NUL(), op, NUL()), -1);
        }
        expect_bool(BIN(B(true), SL_OP_EQ, B(true)), 1);
        expect_bool(BIN(B(true), SL_OP_EQ, B(false)), 0);
        expect_bool(BIN(B(false), SL_OP_NE, B(true)), 1);
        expect_bool(BIN(B(false), SL_OP_NE, B(false)), 0);
        /* strings with embedded bytes compare by length too, not by NUL */
        static const char ab0[] = {'a', 'b', '\0'};
        set_s(2, ab0, 3);
        expect_bool(BIN(COL("s"), SL_OP_GT, S("ab")), 1);
        expect_bool(BIN(COL("s"), SL_OP_EQ, S("ab")), 0);
}

static void test_null_semantics(void **state)
{
        (void)state;
        env_reset();
        expect_null(NUL(), SL_T_NULL);
        expect_null(BIN(NUL(), SL_OP_ADD, I(1)), SL_T_BIGINT);
        expect_null(BIN(D(1), SL_OP_MUL, NUL()), SL_T_DOUBLE);
        expect_null(BIN(I(1), SL_OP_DIV, COL("i")), SL_T_BIGINT); /* i is NULL */
        expect_null(UN(SL_OP_NEG, COL("i")), SL_T_BIGINT);
        expect_null(UN(SL_OP_NEG, COL("d")), SL_T_DOUBLE);
        expect_bool(UN(SL_OP_NOT, COL("b")), -1);
        expect_bool(UN(SL_OP_NOT, NUL()), -1);
        /* IS [NOT] NULL is never NULL */
        expect_bool(ISNULL(COL("i"), false), 1);
        expect_bool(ISNULL(COL("i"), true), 0);
        expect_bool(ISNULL(NUL(), false), 1);
        expect_bool(ISNULL(I(0), false), 0);
        expect_bool(ISNULL(I(0), true), 1);
        set_s(2, "", 0); /* the empty string is not NULL */
        expect_bool(ISNULL(COL("s"), false), 0);
        set_b(3, false);
        expect_bool(ISNULL(COL("b"), true), 1);
        expect_bool(UN(SL_OP_NOT, ISNULL(NUL(), false)), 0);
}

static void test_three_valued_logic(void **state)
{
        (void)state;
        /* -1 NULL, 0 FALSE, 1 TRUE */
        static const int and_t[3][3] = {
                /* q:   NULL FALSE TRUE */
                /* NULL */ {-1, 0, -1},
                /* F */    {0, 0, 0},
                /* T */    {-1, 0, 1},
        };
        static const int or_t[3][3] = {
                {-1, -1, 1},
                {-1, 0, 1},
                {1, 1, 1},
        };
        for (int a = -1; a <= 1; a++)
                for (int b = -1; b <= 1; b++) {
                        env_reset();
                        if (a >= 0)
                                set_b(5, a);
                        if (b >= 0)
                                set_b(6, b);
                        expect_bool(BIN(COL("p"), SL_OP_AND, COL("q")), and_t[a + 1][b + 1]);
                        expect_bool(BIN(COL("p"), SL_OP_OR, COL("q")), or_t[a + 1][b + 1]);
                        /* with literals too */
                        struct sl_expr *la = a < 0 ? NUL() : B(a);
                        struct sl_expr *lb = b < 0 ? NUL() : B(b);
                        expect_bool(BIN(la, SL_OP_AND, lb), and_t[a + 1][b + 1]);
                        la = a < 0 ? NUL() : B(a);
                        lb = b < 0 ? NUL() : B(b);
                        expect_bool(BIN(la, SL_OP_OR, lb), or_t[a + 1][b + 1]);
                        /* sl_prog_test: only a non-null TRUE passes */
                        struct sl_prog *p = compile_ok(BIN(COL("p"), SL_OP_AND, COL("q")));
                        assert_int_equal(sl_prog_test(p, env), and_t[a + 1][b + 1] == 1);
                        sl_prog_free(p);
                        p = compile_ok(UN(SL_OP_NOT, BIN(COL("p"), SL_OP_OR, COL("q"))));
                        assert_int_equal(sl_prog_test(p, env), or_t[a + 1][b + 1] == 0);
                        sl_prog_free(p);
                }
        /* a NULL inside a bigger condition: (1 / 0 > 0) OR TRUE is TRUE */
        env_reset();
        expect_bool(BIN(BIN(BIN(I(1), SL_OP_DIV, I(0)), SL_OP_GT, I(0)), SL_OP_OR, B(true)), 1);
        expect_bool(BIN(BIN(BIN(I(1), SL_OP_DIV, I(0)), SL_OP_GT, I(0)), SL_OP_AND, B(true)), -1);
}

static void test_type_errors(void **state)
{
        (void)state;
        struct sl_expr *e;
        e = BIN(S("a"), SL_OP_ADD, I(1));
        expect_error(e, e, "operator + cannot be applied to STRING and BIGINT");
        e = BIN(COL("b"), SL_OP_MUL, COL("d"));
        expect_error(e, e, "operator * cannot be applied to BOOLEAN and DOUBLE");
        e = BIN(I(1), SL_OP_MOD, COL("s"));
        expect_error(e, e, "operator % cannot be applied to BIGINT and STRING");
        e = UN(SL_OP_NOT, I(1));
        expect_error(e, e, "NOT needs a BOOLEAN operand, found BIGINT");
        e = UN(SL_OP_NEG, S("x"));
        expect_error(e, e, "unary - needs a number, found STRING");
        e = UN(SL_OP_NEG, COL("b"));
        expect_error(e, e, "unary - needs a number, found BOOLEAN");
        e = BIN(I(1), SL_OP_AND, B(true));
        expect_error(e, e, "AND needs BOOLEAN operands, found BIGINT");
        e = BIN(B(true), SL_OP_OR, COL("s"));
        expect_error(e, e, "OR needs BOOLEAN operands, found STRING");
        e = BIN(COL("s"), SL_OP_EQ, I(1));
        expect_error(e, e, "cannot compare STRING with BIGINT");
        e = BIN(COL("d"), SL_OP_LT, COL("b"));
        expect_error(e, e, "cannot compare DOUBLE with BOOLEAN");
        e = BIN(B(true), SL_OP_LT, B(false)); /* booleans only = and <> */
        expect_error(e, e, "cannot compare BOOLEAN with BOOLEAN");
        /* the error is at the innermost node at fault, not the root */
        struct sl_expr *inner = BIN(COL("s"), SL_OP_SUB, I(2));
        e = BIN(BIN(I(1), SL_OP_ADD, inner), SL_OP_GT, I(0));
        expect_error(e, inner, "operator - cannot be applied to STRING and BIGINT");
        /* resolver errors carry the resolver's message at the column */
        struct sl_expr *col = COL("nope");
        e = BIN(I(1), SL_OP_ADD, BIN(col, SL_OP_MUL, I(2)));
        expect_error(e, col, "no column 'nope'");
        struct sl_expr *call = node(SL_EX_CALL);
        call->name = "f";
        e = ISNULL(call, false);
        expect_error(e, call, "not here");
        /* a NULL literal takes the other side's type, so errors still show */
        e = BIN(NUL(), SL_OP_ADD, S("x"));
        expect_error(e, e, "operator + cannot be applied to STRING and STRING");
}

static void test_strings_outlive_ast(void **state)
{
        (void)state;
        env_reset();
        char *text = strdup("hello, world");
        char *text2 = strdup("zz");
        struct sl_expr *se = S(text);
        struct sl_expr *e = BIN(COL("s"), SL_OP_EQ, se);
        struct sl_prog *eq = compile_ok(e);
        struct sl_prog *konst = compile_ok(S(text2));
        struct sl_prog *cmp = compile_ok(BIN(S(text2), SL_OP_GT, S(text)));
        /* destroy the tree and its strings */
        memset(text, '#', strlen(text));
        free(text);
        memset(text2, '#', strlen(text2));
        free(text2);
        free_nodes();

        static const char hw[] = "hello, world";
        set_s(2, hw, (uint32_t)strlen(hw));
        assert_true(sl_prog_test(eq, env));
        set_s(2, hw, 5);
        assert_false(sl_prog_test(eq, env));
        struct sl_value v;
        sl_prog_eval(konst, env, &v);
        assert_int_equal(v.type, SL_T_STRING);
        assert_int_equal(v.u.s.len, 2);
        assert_memory_equal(v.u.s.p, "zz", 2);
        assert_true(sl_prog_test(cmp, env));
        sl_prog_free(eq);
        sl_prog_free(konst);
        sl_prog_free(cmp);

        /* a column's string result borrows from env */
        struct sl_prog *p = compile_ok(COL("s"));
        sl_prog_eval(p, env, &v);
        assert_ptr_equal(v.u.s.p, hw);
        assert_int_equal(v.u.s.len, 5);
        sl_prog_free(p);

        /* several string constants mixed with other constants keep their slots */
        char *a = strdup("alpha"), *b = strdup("beta");
        e = BIN(BIN(BIN(I(1), SL_OP_ADD, I(2)), SL_OP_EQ, I(3)), SL_OP_AND,
                BIN(BIN(S(a), SL_OP_LT, S(b)), SL_OP_AND,
                    BIN(ISNULL(NUL(), false), SL_OP_OR, BIN(S(b), SL_OP_EQ, S(a)))));
        p = compile_ok(e);
        free(a);
        free(b);
        free_nodes();
        assert_true(sl_prog_test(p, env));
        sl_prog_free(p);
}

static void test_as_slot(void **state)
{
        (void)state;
        env_reset();
        struct sl_prog *p = compile_ok(COL("d"));
        assert_int_equal(sl_prog_as_slot(p), 1);
        assert_int_equal(sl_prog_type(p), SL_T_DOUBLE);
        sl_prog_free(p);
        p = compile_ok(COL("j"));
        assert_int_equal(sl_prog_as_slot(p), 7);
        sl_prog_free(p);
        p = compile_ok(BIN(COL("i"), SL_OP_ADD, I(0)));
        assert_int_equal(sl_prog_as_slot(p), -1);
        sl_prog_free(p);
        p = compile_ok(I(3));
        assert_int_equal(sl_prog_as_slot(p), -1);
        sl_prog_free(p);
        /* WINDOWSTART goes through the resolver like a column */
        resolve_calls = 0;
        p = compile_ok(BIN(node(SL_EX_WINDOWSTART), SL_OP_ADD, I(1)));
        assert_int_equal(resolve_calls, 1);
        set_i(7, 1000);
        struct sl_value v;
        sl_prog_eval(p, env, &v);
        assert_int_equal(v.type, SL_T_BIGINT);
        assert_true(v.u.i == 1001);
        sl_prog_free(p);
}

static struct sl_expr *right_chain(int n)
{
        /* 1 + (1 + (1 + ... 1)): n constants, stack depth n */
        struct sl_expr *e = I(1);
        for (int i = 1; i < n; i++)
                e = BIN(I(1), SL_OP_ADD, e);
        return e;
}

static void test_limits(void **state)
{
        (void)state;
        env_reset();
        expect_int(right_chain(64), 64);
        free_nodes();
        struct sl_expr *e = right_chain(65);
        struct sl_expr_error err;
        assert_null(sl_expr_compile(e, resolve, NULL, &err));
        assert_string_equal(err.msg, "expression too complex");
        free_nodes();
        /* a long left chain needs two stack slots only */
        e = I(0);
        for (int i = 0; i < 200; i++)
                e = BIN(e, SL_OP_ADD, I(i));
        expect_int(e, 199 * 200 / 2);
        free_nodes();
        /* nesting depth */
        e = I(1);
        for (int i = 0; i < 300; i++)
                e = UN(SL_OP_NEG, e);
        assert_null(sl_expr_compile(e, resolve, NULL, &err));
        assert_string_equal(err.msg, "expression nested too deeply");
        free_nodes();
        e = I(1);
        for (int i = 0; i < 255; i++)
                e = UN(SL_OP_NEG, e);
        expect_int(e, -1);
}

/* A program is read-only: evaluating it repeatedly over changing
 * environments gives fresh results (no state left in the program). */
static void test_reuse(void **state)
{
        (void)state;
        env_reset();
        struct sl_prog *p = compile_ok(
                BIN(BIN(COL("i"), SL_OP_MUL, I(3)), SL_OP_ADD, BIN(COL("j"), SL_OP_DIV, I(2))));
        for (int64_t k = -50; k <= 50; k++) {
                set_i(0, k);
                set_i(7, k * 7);
                struct sl_value v;
                sl_prog_eval(p, env, &v);
                assert_int_equal(v.type, SL_T_BIGINT);
                assert_true(v.u.i == k * 3 + (k * 7) / 2);
        }
        set_null(7);
        struct sl_value v;
        sl_prog_eval(p, env, &v);
        assert_int_equal(v.type, SL_T_NULL);
        sl_prog_free(p);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_constants_and_arith, teardown),
                cmocka_unit_test_teardown(test_integer_wrap, teardown),
                cmocka_unit_test_teardown(test_division_by_zero, teardown),
                cmocka_unit_test_teardown(test_double_modulo, teardown),
                cmocka_unit_test_teardown(test_double_modulo_large_quotient, teardown),
                cmocka_unit_test_teardown(test_double_modulo_by_zero, teardown),
                cmocka_unit_test_teardown(test_double_modulo_by_infinity, teardown),
                cmocka_unit_test_teardown(test_double_modulo_out_of_int64, teardown),
                cmocka_unit_test_teardown(test_promotion, teardown),
                cmocka_unit_test_teardown(test_comparisons, teardown),
                cmocka_unit_test_teardown(test_null_semantics, teardown),
                cmocka_unit_test_teardown(test_three_valued_logic, teardown),
                cmocka_unit_test_teardown(test_type_errors, teardown),
                cmocka_unit_test_teardown(test_strings_outlive_ast, teardown),
                cmocka_unit_test_teardown(test_as_slot, teardown),
                cmocka_unit_test_teardown(test_limits, teardown),
                cmocka_unit_test_teardown(test_reuse, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
