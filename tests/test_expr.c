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
#include <pthread.h>
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
static char *strings[MAX_NODES]; /* bytes of SN() literals */
static size_t nstrings;
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
        for (size_t i = 0; i < nstrings; i++)
                free(strings[i]);
        nstrings = 0;
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
        /* an aggregate call goes to the resolver; other names are unknown */
        struct sl_expr *call = node(SL_EX_CALL);
        call->name = "sum";
        e = ISNULL(call, false);
        expect_error(e, call, "not here");
        call = node(SL_EX_CALL);
        call->name = "f";
        e = ISNULL(call, false);
        expect_error(e, call, "unknown function 'f'");
        /* a NULL literal takes the other side's type, so errors still show */
        e = BIN(NUL(), SL_OP_MUL, B(true));
        expect_error(e, e, "operator * cannot be applied to BOOLEAN and BOOLEAN");
        e = BIN(S("x"), SL_OP_SUB, NUL());
        expect_error(e, e, "operator - cannot be applied to STRING and STRING");
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


/* ---- functions: tree building and checks ---------------------------- */

/* name(args...), the argument list ended by NULL. */
static struct sl_expr *CALL(const char *name, ...)
{
        struct sl_expr *e = node(SL_EX_CALL);
        e->name = name;
        e->args = calloc(70, sizeof *e->args);
        va_list ap;
        va_start(ap, name);
        for (struct sl_expr *a; (a = va_arg(ap, struct sl_expr *)) != NULL;)
                e->args[e->nargs++] = a;
        va_end(ap);
        return e;
}

/* CASE: [operand] when then ... [else], ended by NULL. */
static struct sl_expr *CASE(int has_operand, int has_else, ...)
{
        struct sl_expr *e = node(SL_EX_CASE);
        e->has_operand = has_operand;
        e->has_else = has_else;
        e->args = calloc(64, sizeof *e->args);
        va_list ap;
        va_start(ap, has_else);
        for (struct sl_expr *a; (a = va_arg(ap, struct sl_expr *)) != NULL;)
                e->args[e->nargs++] = a;
        va_end(ap);
        return e;
}

static struct sl_expr *CAST(struct sl_expr *a, enum sl_type to)
{
        struct sl_expr *e = node(SL_EX_CAST);
        e->cast_to = to;
        e->nargs = 1;
        e->args = calloc(1, sizeof *e->args);
        e->args[0] = a;
        return e;
}

/* A string literal of n bytes c, owned by the node list. */
static struct sl_expr *SN(char c, size_t n)
{
        char *text = malloc(n + 1);
        memset(text, c, n);
        text[n] = '\0';
        struct sl_expr *e = S(text);
        e->u.s.len = (uint32_t)n;
        assert_true(nstrings < MAX_NODES);
        strings[nstrings++] = text;
        return e;
}

/* Compiles, checks the program type, evaluates, and compares a string. */
static void expect_str_n(const struct sl_expr *e, const char *want, size_t n)
{
        struct sl_prog *p = compile_ok(e);
        assert_int_equal(sl_prog_type(p), SL_T_STRING);
        struct sl_value v;
        sl_prog_eval(p, env, &v);
        if (v.type != SL_T_STRING)
                fail_msg("got type %d, want STRING '%s'", v.type, want);
        if (v.u.s.len != n || memcmp(v.u.s.p, want, n) != 0)
                fail_msg("got '%.*s' (%u bytes), want '%s'", (int)v.u.s.len, v.u.s.p,
                         v.u.s.len, want);
        if (sl_prog_overflows(p) != 0)
                fail_msg("'%.40s': %llu overflows", want, (unsigned long long)sl_prog_overflows(p));
        sl_prog_free(p);
}

static void expect_str(const struct sl_expr *e, const char *want)
{
        expect_str_n(e, want, strlen(want));
}

/* The program overflows: the value is NULL and the counter says so. */
static void expect_overflow(const struct sl_expr *e)
{
        struct sl_prog *p = compile_ok(e);
        struct sl_value v;
        sl_prog_eval(p, env, &v);
        assert_int_equal(v.type, SL_T_NULL);
        assert_int_equal(sl_prog_overflows(p), 1);
        sl_prog_eval(p, env, &v);
        assert_int_equal(sl_prog_overflows(p), 2);
        sl_prog_free(p);
}

static void expect_type_int(const struct sl_expr *e, enum sl_type type, int64_t want)
{
        struct sl_value v = eval(e, type);
        assert_true(sl_type_is_int(v.type));
        if (v.u.i != want)
                fail_msg("got %lld, want %lld", (long long)v.u.i, (long long)want);
}

static uint64_t dbits(double d)
{
        uint64_t u;
        memcpy(&u, &d, sizeof u);
        return u;
}

/* ---- functions: cases ------------------------------------------------ */

static void test_round(void **state)
{
        (void)state;
        env_reset();
        /* ROUND(DOUBLE) is BIGINT, half up toward +infinity (Math.round) */
        static const struct {
                double in;
                int64_t out;
        } r0[] = {
                {1.1, 1}, {1.5, 2}, {1.9, 2}, {-1.1, -1}, {-1.5, -1}, {-1.9, -2},
                {2.5, 3}, {-2.5, -2}, {-0.5, 0}, {0.49999999999999994, 0},
                {-0.49999999999999994, 0}, {4503599627370497.0, 4503599627370497LL},
                {1e300, INT64_MAX}, {-1e300, INT64_MIN}, {9223372036854775807.0, INT64_MAX},
                {-9223372036854775808.0, INT64_MIN},
        };
        for (size_t k = 0; k < sizeof r0 / sizeof r0[0]; k++)
                expect_int(CALL("ROUND", D(r0[k].in), NULL), r0[k].out);
        expect_int(CALL("round", D(NAN), NULL), 0); /* Math.round(NaN) */
        expect_int(CALL("ROUND", D(INFINITY), NULL), INT64_MAX);
        expect_int(CALL("ROUND", D(-INFINITY), NULL), INT64_MIN);
        /* integers are returned as they are, as BIGINT */
        expect_int(CALL("ROUND", I(INT64_MIN), NULL), INT64_MIN);
        set_i(4, -7);
        expect_int(CALL("ROUND", COL("n"), NULL), -7);
        expect_null(CALL("ROUND", COL("d"), NULL), SL_T_BIGINT);
        expect_null(CALL("ROUND", NUL(), NULL), SL_T_BIGINT);

        /* ROUND(x, places) is DOUBLE: the shortest decimal of x, rounded
         * half up for positive and half down for negative x (ksqlDB). */
        static const struct {
                double in;
                int64_t places;
                double out;
        } r2[] = {
                {2.675, 2, 2.68}, {-2.675, 2, -2.67}, {1.005, 2, 1.01}, {0.045, 2, 0.05},
                {9.995, 2, 10.0}, {-9.995, 2, -9.99}, {1234.5678, -2, 1200.0},
                {1250.0, -2, 1300.0}, {-1250.0, -2, -1200.0}, {0.5, 0, 1.0}, {1.45, 1, 1.5},
                {123.456, 1, 123.5}, {123.44999, 1, 123.4}, {1e300, 2, 1e300},
                {1.23, 400, 1.23}, {5e-324, 2, 0.0}, {1.7976931348623157e308, -308, INFINITY},
                {0.1 + 0.2, 15, 0.3}, {0.1 + 0.2, 17, 0.30000000000000004},
        };
        for (size_t k = 0; k < sizeof r2 / sizeof r2[0]; k++)
                expect_double(CALL("ROUND", D(r2[k].in), I(r2[k].places), NULL), r2[k].out);
        /* what rounds to zero is +0.0: BigDecimal has no negative zero */
        expect_double(CALL("ROUND", D(-0.5), I(0), NULL), 0.0);
        expect_double(CALL("ROUND", D(-0.001), I(2), NULL), 0.0);
        expect_double(CALL("ROUND", D(-0.0), I(1), NULL), 0.0);
        expect_double(CALL("ROUND", D(123.0), I(-400), NULL), 0.0);
        expect_double(CALL("ROUND", D(-123.0), I(INT64_MIN), NULL), 0.0);
        expect_double(CALL("ROUND", D(-123.25), I(INT64_MAX), NULL), -123.25);
        /* an integer x is widened */
        expect_double(CALL("ROUND", I(5), I(1), NULL), 5.0);
        set_i(0, 1250);
        expect_double(CALL("ROUND", COL("i"), I(-2), NULL), 1300.0);
        /* no decimal for NaN and infinities: NULL (ksqlDB fails the call) */
        expect_null(CALL("ROUND", D(NAN), I(2), NULL), SL_T_DOUBLE);
        expect_null(CALL("ROUND", D(-INFINITY), I(2), NULL), SL_T_DOUBLE);
        expect_null(CALL("ROUND", D(1.5), NUL(), NULL), SL_T_DOUBLE);
        expect_null(CALL("ROUND", D(1.5), COL("j"), NULL), SL_T_DOUBLE);
        expect_null(CALL("ROUND", NUL(), I(2), NULL), SL_T_DOUBLE);
        set_i(4, 1);
        expect_double(CALL("ROUND", D(0.25), COL("n"), NULL), 0.3);

        struct sl_expr *a, *e;
        a = S("1.5");
        expect_error(CALL("ROUND", a, NULL), a, "ROUND expects a number, got STRING");
        a = D(2.0);
        expect_error(CALL("ROUND", D(1.5), a, NULL), a,
                     "ROUND expects an integer number of decimal places, got DOUBLE");
        e = CALL("ROUND", NULL);
        expect_error(e, e, "ROUND takes 1 or 2 arguments, got 0");
        e = CALL("Round", I(1), I(2), I(3), NULL);
        expect_error(e, e, "ROUND takes 1 or 2 arguments, got 3");
        e = CALL("ROUND", NULL);
        e->star = true;
        expect_error(e, e, "ROUND(*) is not allowed");
}

static void test_abs_ceil_floor(void **state)
{
        (void)state;
        env_reset();
        expect_int(CALL("ABS", I(-5), NULL), 5);
        expect_int(CALL("ABS", I(5), NULL), 5);
        expect_int(CALL("ABS", I(INT64_MIN), NULL), INT64_MIN); /* Math.abs wraps */
        expect_double(CALL("ABS", D(-2.5), NULL), 2.5);
        expect_double(CALL("ABS", D(-0.0), NULL), 0.0);
        assert_true(dbits(eval(CALL("ABS", D(-0.0), NULL), SL_T_DOUBLE).u.d) == dbits(0.0));
        expect_double(CALL("ABS", D(-INFINITY), NULL), INFINITY);
        expect_double(CALL("ABS", D(NAN), NULL), NAN);
        /* an INTEGER is computed in 64 bits: its ABS is a BIGINT */
        set_i(4, -2147483648LL);
        expect_type_int(CALL("abs", COL("n"), NULL), SL_T_BIGINT, 2147483648LL);
        expect_null(CALL("ABS", COL("d"), NULL), SL_T_DOUBLE);
        expect_null(CALL("ABS", NUL(), NULL), SL_T_BIGINT);

        expect_double(CALL("CEIL", D(1.2), NULL), 2.0);
        expect_double(CALL("CEIL", D(-1.2), NULL), -1.0);
        expect_double(CALL("CEIL", D(-0.5), NULL), -0.0);
        expect_double(CALL("CEIL", D(INFINITY), NULL), INFINITY);
        expect_double(CALL("FLOOR", D(-1.2), NULL), -2.0);
        expect_double(CALL("FLOOR", D(1.9999999999999998), NULL), 1.0);
        expect_double(CALL("FLOOR", D(NAN), NULL), NAN);
        expect_double(CALL("floor", D(1e300), NULL), 1e300);
        /* integers keep their type (ksqlDB's INT and BIGINT overloads) */
        set_i(4, 7);
        expect_type_int(CALL("CEIL", COL("n"), NULL), SL_T_INT, 7);
        expect_type_int(CALL("FLOOR", I(-3), NULL), SL_T_BIGINT, -3);
        expect_null(CALL("CEIL", COL("d"), NULL), SL_T_DOUBLE);
        expect_null(CALL("FLOOR", NUL(), NULL), SL_T_BIGINT);

        struct sl_expr *a, *e;
        a = B(true);
        expect_error(CALL("ABS", a, NULL), a, "ABS expects a number, got BOOLEAN");
        a = S("1");
        expect_error(CALL("CEIL", a, NULL), a, "CEIL expects a number, got STRING");
        e = CALL("FLOOR", D(1), D(2), NULL);
        expect_error(e, e, "FLOOR takes 1 argument, got 2");
}

static void test_least_greatest(void **state)
{
        (void)state;
        env_reset();
        expect_int(CALL("LEAST", I(3), I(1), I(2), NULL), 1);
        expect_int(CALL("GREATEST", I(3), I(1), I(2), NULL), 3);
        expect_int(CALL("LEAST", I(5), NULL), 5);
        expect_double(CALL("GREATEST", I(1), D(2.5), NUL(), NULL), 2.5);
        expect_double(CALL("LEAST", I(1), D(2.5), NULL), 1.0); /* widened */
        expect_null(CALL("LEAST", NUL(), NUL(), NULL), SL_T_NULL);
        expect_null(CALL("GREATEST", COL("i"), COL("j"), NULL), SL_T_BIGINT);
        set_i(7, 9);
        expect_int(CALL("LEAST", COL("i"), COL("j"), NULL), 9); /* NULLs skipped */
        /* conversions land on the right operand */
        set_i(0, 3);
        set_d(1, 2.5);
        set_i(4, 4);
        expect_double(CALL("GREATEST", COL("i"), COL("d"), COL("n"), NULL), 4.0);
        expect_double(CALL("LEAST", COL("i"), COL("d"), COL("n"), NULL), 2.5);
        expect_type_int(CALL("LEAST", COL("n"), I(10), NULL), SL_T_BIGINT, 4);
        expect_type_int(CALL("GREATEST", COL("n"), COL("n"), NULL), SL_T_INT, 4);
        /* Double.compare order: NaN above all, -0.0 below 0.0 */
        expect_double(CALL("GREATEST", D(1), D(NAN), D(INFINITY), NULL), NAN);
        expect_double(CALL("LEAST", D(NAN), D(1), NULL), 1.0);
        expect_double(CALL("LEAST", D(0.0), D(-0.0), NULL), -0.0);
        assert_true(dbits(eval(CALL("LEAST", D(0.0), D(-0.0), NULL), SL_T_DOUBLE).u.d) == dbits(-0.0));
        assert_true(dbits(eval(CALL("GREATEST", D(-0.0), D(0.0), NULL), SL_T_DOUBLE).u.d) == dbits(0.0));
        /* strings in byte order */
        expect_str(CALL("GREATEST", S("abc"), S("abd"), S("ab"), NULL), "abd");
        expect_str(CALL("LEAST", S("abc"), S("abd"), S("ab"), NUL(), NULL), "ab");
        expect_str(CALL("LEAST", S("\xc3\xa9"), S("z"), NULL), "z");
        expect_str(CALL("GREATEST", S(""), NUL(), NULL), "");

        struct sl_expr *a;
        a = S("a");
        expect_error(CALL("LEAST", I(1), a, NULL), a,
                     "LEAST arguments must have one type: this one is STRING, an earlier one BIGINT");
        a = B(true);
        expect_error(CALL("GREATEST", a, NULL), a, "GREATEST expects numbers or strings, got BOOLEAN");
}

static void test_coalesce_ifnull(void **state)
{
        (void)state;
        env_reset();
        expect_int(CALL("COALESCE", COL("i"), I(5), NULL), 5);
        set_i(7, 9);
        expect_int(CALL("COALESCE", COL("i"), COL("j"), I(7), NULL), 9);
        set_i(0, 3);
        expect_int(CALL("COALESCE", COL("i"), COL("j"), I(7), NULL), 3);
        /* a first argument that is an int becomes a double when a later one is */
        expect_double(CALL("COALESCE", COL("i"), COL("d"), NULL), 3.0);
        set_null(0);
        set_d(1, 0.5);
        expect_double(CALL("COALESCE", COL("i"), COL("d"), NULL), 0.5);
        expect_double(CALL("COALESCE", COL("i"), NUL(), COL("n"), D(8), NULL), 8.0);
        expect_null(CALL("COALESCE", NUL(), NULL), SL_T_NULL);
        set_null(7);
        expect_null(CALL("COALESCE", COL("i"), NUL(), COL("j"), NULL), SL_T_BIGINT);
        expect_null(CALL("COALESCE", COL("i"), COL("j"), NULL), SL_T_BIGINT);
        expect_str(CALL("IFNULL", COL("s"), S("none"), NULL), "none");
        set_s(2, "x", 1);
        expect_str(CALL("ifnull", COL("s"), S("none"), NULL), "x");
        expect_bool(CALL("COALESCE", COL("b"), B(true), NULL), 1);
        expect_null(CALL("IFNULL", COL("b"), NUL(), NULL), SL_T_BOOL);
        /* evaluated lazily: the argument after a non-NULL one never runs */
        expect_str(CALL("COALESCE", S("a"), CALL("CONCAT", SN('x', SL_EXPR_STR_MAX), S("!"), NULL),
                        NULL),
                   "a");
        /* inside a bigger expression, the stack stays in order */
        expect_int(BIN(I(100), SL_OP_ADD,
                       BIN(CALL("COALESCE", COL("i"), I(5), NULL), SL_OP_MUL,
                           CALL("IFNULL", NUL(), I(2), NULL))),
                   110);

        struct sl_expr *a, *e;
        a = S("x");
        expect_error(CALL("COALESCE", I(1), COL("i"), a, NULL), a,
                     "COALESCE arguments must have one type: this one is STRING, an earlier one BIGINT");
        a = B(false);
        expect_error(CALL("IFNULL", COL("d"), a, NULL), a,
                     "IFNULL arguments must have one type: this one is BOOLEAN, an earlier one DOUBLE");
        e = CALL("IFNULL", I(1), NULL);
        expect_error(e, e, "IFNULL takes 2 arguments, got 1");
        e = CALL("COALESCE", NULL);
        expect_error(e, e, "COALESCE takes at least 1 argument, got 0");
}

static void test_case(void **state)
{
        (void)state;
        env_reset();
        static const struct {
                double d;
                const char *want;
        } sizes[] = {{500, "big"}, {50, "mid"}, {5, "small"}, {10, "small"}, {100.5, "big"}};
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
                set_d(1, sizes[k].d);
                expect_str(CASE(false, true, BIN(COL("d"), SL_OP_GT, I(100)), S("big"),
                                BIN(COL("d"), SL_OP_GT, I(10)), S("mid"), S("small"), NULL),
                           sizes[k].want);
        }
        /* a NULL condition is not TRUE: the next branch is tried */
        set_null(1);
        expect_str(CASE(false, true, BIN(COL("d"), SL_OP_GT, I(100)), S("big"), S("other"), NULL),
                   "other");
        /* without ELSE: NULL */
        expect_null(CASE(false, false, B(false), S("x"), NULL), SL_T_STRING);
        expect_null(CASE(false, false, NUL(), I(1), NULL), SL_T_BIGINT);
        /* mixed numeric results widen; the integer branch is converted */
        set_b(5, true);
        expect_double(CASE(false, true, COL("p"), I(1), D(2.5), NULL), 1.0);
        set_b(5, false);
        expect_double(CASE(false, true, COL("p"), I(1), D(2.5), NULL), 2.5);
        set_i(4, 3);
        set_i(7, 4);
        expect_type_int(CASE(false, true, COL("p"), COL("n"), COL("j"), NULL), SL_T_BIGINT, 4);
        expect_type_int(CASE(false, true, COL("p"), COL("n"), COL("n"), NULL), SL_T_INT, 3);
        expect_null(CASE(false, true, COL("p"), NUL(), NUL(), NULL), SL_T_NULL);

        /* simple form: CASE x WHEN v THEN ... compares x = v */
        static const char *const names[] = {"zero", "one", "two", "many"};
        for (int64_t k = 0; k < 4; k++) {
                set_i(0, k);
                expect_str(CASE(true, true, COL("i"), I(1), S("one"), I(2), S("two"), I(0), S("zero"),
                                S("many"), NULL),
                           names[k]);
        }
        set_i(0, 2);
        expect_str(CASE(true, false, COL("i"), D(2.0), S("two"), NULL), "two"); /* 2 = 2.0 */
        set_d(1, 2.0);
        expect_str(CASE(true, false, COL("d"), I(1), S("one"), I(2), S("two"), NULL), "two");
        set_s(2, "b", 1);
        expect_str(CASE(true, true, COL("s"), S("a"), S("A"), S("b"), S("B"), S("?"), NULL), "B");
        /* NULL never equals anything */
        set_null(0);
        expect_str(CASE(true, true, COL("i"), NUL(), S("null"), I(1), S("one"), S("else"), NULL),
                   "else");
        expect_null(CASE(true, false, COL("i"), I(1), S("one"), NULL), SL_T_STRING);
        /* nested, and inside arithmetic: the operand and stack stay balanced */
        set_i(0, 2);
        set_i(7, 10);
        expect_int(BIN(COL("j"), SL_OP_ADD,
                       BIN(CASE(true, true, COL("i"), I(1), I(100),
                                I(2), CASE(true, true, COL("j"), I(10), I(20), I(30), NULL),
                                I(40), NULL),
                           SL_OP_MUL, I(2))),
                   50);
        expect_bool(BIN(CASE(false, true, B(true), S("x"), S("y"), NULL), SL_OP_EQ, S("x")), 1);

        struct sl_expr *a;
        a = COL("i");
        expect_error(CASE(false, false, a, S("x"), NULL), a,
                     "CASE WHEN needs a BOOLEAN condition, found BIGINT");
        a = I(1);
        expect_error(CASE(false, true, B(true), S("a"), a, NULL), a,
                     "CASE results must have one type: this one is BIGINT, an earlier one STRING");
        a = I(1);
        expect_error(CASE(true, false, COL("s"), a, S("x"), NULL), a, "cannot compare STRING with BIGINT");
}

static void test_cast(void **state)
{
        (void)state;
        env_reset();
        /* to STRING: Java's text of each type */
        expect_str(CAST(I(-42), SL_T_STRING), "-42");
        expect_str(CAST(I(INT64_MIN), SL_T_STRING), "-9223372036854775808");
        expect_str(CAST(B(true), SL_T_STRING), "true");
        expect_str(CAST(B(false), SL_T_STRING), "false");
        static const struct {
                double in;
                const char *out;
        } dtext[] = {
                {7500.0, "7500.0"}, {5000.01, "5000.01"}, {1e7, "1.0E7"}, {9999999.0, "9999999.0"},
                {12345678.9, "1.23456789E7"}, {0.001, "0.001"}, {0.0001, "1.0E-4"},
                {-0.00012, "-1.2E-4"}, {0.0, "0.0"}, {-0.0, "-0.0"}, {1.0, "1.0"}, {-2.5, "-2.5"},
                {0.1 + 0.2, "0.30000000000000004"}, {1e21, "1.0E21"}, {1.5e300, "1.5E300"},
                {5e-324, "4.9E-324"}, {1e-323, "9.9E-324"}, {1.7976931348623157e308, "1.7976931348623157E308"},
                {NAN, "NaN"}, {INFINITY, "Infinity"}, {-INFINITY, "-Infinity"},
        };
        for (size_t k = 0; k < sizeof dtext / sizeof dtext[0]; k++)
                expect_str(CAST(D(dtext[k].in), SL_T_STRING), dtext[k].out);
        set_i(4, 2147483647);
        expect_str(CAST(COL("n"), SL_T_STRING), "2147483647");
        /* a STRING is not copied */
        static const char txt[] = "text";
        set_s(2, txt, 4);
        struct sl_prog *p = compile_ok(CAST(COL("s"), SL_T_STRING));
        struct sl_value v;
        sl_prog_eval(p, env, &v);
        assert_ptr_equal(v.u.s.p, txt);
        sl_prog_free(p);

        /* from STRING: trimmed, parsed as Java does; failures are NULL */
        static const struct {
                const char *in;
                int ok;
                int64_t v;
        } ints[] = {
                {"42", 1, 42}, {"  -7\t\n", 1, -7}, {"+5", 1, 5}, {"-0", 1, 0},
                {"2147483647", 1, 2147483647}, {"-2147483648", 1, -2147483648LL},
                {"2147483648", 0, 0}, {"", 0, 0}, {" ", 0, 0}, {"+", 0, 0}, {"1.5", 0, 0},
                {"1e3", 0, 0}, {"0x10", 0, 0}, {"12a", 0, 0}, {"- 1", 0, 0}, {"007", 1, 7},
        };
        for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
                struct sl_expr *e = CAST(S(ints[k].in), SL_T_INT);
                if (ints[k].ok)
                        expect_type_int(e, SL_T_INT, ints[k].v);
                else
                        expect_null(e, SL_T_INT);
        }
        expect_type_int(CAST(S("2147483648"), SL_T_BIGINT), SL_T_BIGINT, 2147483648LL);
        expect_type_int(CAST(S("-9223372036854775808"), SL_T_BIGINT), SL_T_BIGINT, INT64_MIN);
        expect_type_int(CAST(S(" 9223372036854775807 "), SL_T_BIGINT), SL_T_BIGINT, INT64_MAX);
        expect_null(CAST(S("9223372036854775808"), SL_T_BIGINT), SL_T_BIGINT);
        expect_null(CAST(S("-9223372036854775809"), SL_T_BIGINT), SL_T_BIGINT);
        expect_null(CAST(S("99999999999999999999999"), SL_T_BIGINT), SL_T_BIGINT);
        static const struct {
                const char *in;
                int ok;
                double v;
        } dbls[] = {
                {"1.5", 1, 1.5}, {" 1e3 ", 1, 1000.0}, {".5", 1, 0.5}, {"5.", 1, 5.0},
                {"-2.5E-3", 1, -0.0025}, {"+7", 1, 7.0}, {"1.5f", 1, 1.5}, {"2d", 1, 2.0},
                {"NaN", 1, NAN}, {"-Infinity", 1, -INFINITY}, {"1e999", 1, INFINITY},
                {"inf", 0, 0}, {"nan", 0, 0}, {"0x1p3", 0, 0}, {"", 0, 0}, {".", 0, 0},
                {"1e", 0, 0}, {"1e+", 0, 0}, {"abc", 0, 0}, {"1.5.5", 0, 0}, {"1,5", 0, 0},
        };
        for (size_t k = 0; k < sizeof dbls / sizeof dbls[0]; k++) {
                struct sl_expr *e = CAST(S(dbls[k].in), SL_T_DOUBLE);
                if (dbls[k].ok)
                        expect_double(e, dbls[k].v);
                else
                        expect_null(e, SL_T_DOUBLE);
        }
        /* BOOLEAN: 'true' in any case is TRUE, anything else FALSE */
        expect_bool(CAST(S("true"), SL_T_BOOL), 1);
        expect_bool(CAST(S(" TrUe\n"), SL_T_BOOL), 1);
        expect_bool(CAST(S("yes"), SL_T_BOOL), 0);
        expect_bool(CAST(S("1"), SL_T_BOOL), 0);
        expect_bool(CAST(S(""), SL_T_BOOL), 0);
        expect_bool(CAST(S("truex"), SL_T_BOOL), 0);

        /* between numbers, as Java's narrowing and widening */
        expect_type_int(CAST(I(4294967297LL), SL_T_INT), SL_T_INT, 1);
        expect_type_int(CAST(I(2147483648LL), SL_T_INT), SL_T_INT, -2147483648LL);
        expect_type_int(CAST(I(-1), SL_T_INT), SL_T_INT, -1);
        expect_type_int(CAST(D(3.9), SL_T_INT), SL_T_INT, 3);
        expect_type_int(CAST(D(-3.9), SL_T_INT), SL_T_INT, -3);
        expect_type_int(CAST(D(1e10), SL_T_INT), SL_T_INT, 2147483647);
        expect_type_int(CAST(D(-1e10), SL_T_INT), SL_T_INT, -2147483648LL);
        expect_type_int(CAST(D(NAN), SL_T_INT), SL_T_INT, 0);
        expect_type_int(CAST(D(1e19), SL_T_BIGINT), SL_T_BIGINT, INT64_MAX);
        expect_type_int(CAST(D(-INFINITY), SL_T_BIGINT), SL_T_BIGINT, INT64_MIN);
        expect_type_int(CAST(D(-123.99), SL_T_BIGINT), SL_T_BIGINT, -123);
        set_i(4, 5);
        expect_type_int(CAST(COL("n"), SL_T_BIGINT), SL_T_BIGINT, 5);
        expect_double(CAST(COL("n"), SL_T_DOUBLE), 5.0);
        expect_double(CAST(I(INT64_MAX), SL_T_DOUBLE), 9223372036854775808.0);
        expect_bool(CAST(B(true), SL_T_BOOL), 1);
        /* NULL in, NULL out, typed */
        expect_null(CAST(NUL(), SL_T_DOUBLE), SL_T_DOUBLE);
        expect_null(CAST(COL("s"), SL_T_BIGINT), SL_T_BIGINT);
        set_null(2);
        expect_null(CAST(COL("s"), SL_T_BIGINT), SL_T_BIGINT);
        expect_null(CAST(COL("i"), SL_T_STRING), SL_T_STRING);

        struct sl_expr *e;
        e = CAST(B(true), SL_T_BIGINT);
        expect_error(e, e, "Cast of BOOLEAN to BIGINT is not supported");
        e = CAST(COL("d"), SL_T_BOOL);
        expect_error(e, e, "Cast of DOUBLE to BOOLEAN is not supported");
        e = CAST(COL("n"), SL_T_BOOL);
        expect_error(e, e, "Cast of INTEGER to BOOLEAN is not supported");
}

static void test_concat(void **state)
{
        (void)state;
        env_reset();
        expect_str(CALL("CONCAT", S("a"), S("b"), NULL), "ab");
        /* NULLs are skipped (ksqlDB): the result is never NULL */
        expect_str(CALL("CONCAT", S("a"), COL("s"), S("c"), NULL), "ac");
        expect_str(CALL("concat", COL("s"), NUL(), NULL), "");
        expect_str(CALL("CONCAT", S(""), S(""), NULL), "");
        set_s(2, "mid", 3);
        expect_str(CALL("CONCAT", S("<"), COL("s"), S(">"), NULL), "<mid>");
        /* || is CONCAT (ksqlDB parses it so) */
        expect_str(BIN(BIN(S("a"), SL_OP_CONCAT, COL("s")), SL_OP_CONCAT, S("b")), "amidb");
        expect_str(BIN(S("a"), SL_OP_CONCAT, BIN(NUL(), SL_OP_CONCAT, S("b"))), "ab");
        /* + on strings concatenates; a NULL operand gives NULL */
        expect_str(BIN(S("a"), SL_OP_ADD, COL("s")), "amid");
        set_null(2);
        expect_null(BIN(S("a"), SL_OP_ADD, COL("s")), SL_T_STRING);
        expect_null(BIN(NUL(), SL_OP_ADD, S("x")), SL_T_STRING);
        /* a chain longer than the stack is concatenated in parts */
        char want[201];
        struct sl_expr *e = S("x");
        want[0] = 'x';
        for (int k = 1; k < 200; k++) {
                e = BIN(e, SL_OP_CONCAT, S(k % 2 ? "y" : "x"));
                want[k] = k % 2 ? 'y' : 'x';
        }
        want[200] = '\0';
        expect_str(e, want);
        struct sl_expr *args[70];
        for (int k = 0; k < 70; k++)
                args[k] = S("ab");
        struct sl_expr *call = CALL("CONCAT", NULL);
        for (int k = 0; k < 70; k++)
                call->args[call->nargs++] = args[k];
        char ab[141];
        for (int k = 0; k < 70; k++)
                memcpy(ab + 2 * k, "ab", 2);
        ab[140] = '\0';
        expect_str(call, ab);
        /* built strings compare like any other */
        set_s(2, "b", 1);
        expect_bool(BIN(CALL("CONCAT", S("a"), COL("s"), NULL), SL_OP_EQ, S("ab")), 1);
        expect_bool(BIN(CALL("CONCAT", S("a"), COL("s"), NULL), SL_OP_LT,
                        BIN(S("a"), SL_OP_CONCAT, S("c"))), 1);

        struct sl_expr *a;
        a = I(1);
        expect_error(CALL("CONCAT", a, S("a"), NULL), a,
                     "CONCAT expects STRING arguments, got BIGINT (convert with CAST(... AS STRING) or use FORMAT)");
        a = D(1);
        expect_error(BIN(S("a"), SL_OP_CONCAT, a), a,
                     "|| expects STRING arguments, got DOUBLE (convert with CAST(... AS STRING) or use FORMAT)");
        e = CALL("CONCAT", S("a"), NULL);
        expect_error(e, e, "CONCAT takes at least 2 arguments, got 1");
        e = BIN(S("a"), SL_OP_ADD, I(1));
        expect_error(e, e, "operator + cannot be applied to STRING and BIGINT");
}

/* Every built string is bounded; what does not fit is NULL and counted. */
static void test_string_limits(void **state)
{
        (void)state;
        env_reset();
        size_t half = SL_EXPR_STR_MAX / 2;
        /* exactly the limit is fine */
        struct sl_prog *p = compile_ok(CALL("CONCAT", SN('a', half), SN('b', half), NULL));
        struct sl_value v;
        sl_prog_eval(p, env, &v);
        assert_int_equal(v.type, SL_T_STRING);
        assert_int_equal(v.u.s.len, SL_EXPR_STR_MAX);
        assert_int_equal(v.u.s.p[0], 'a');
        assert_int_equal(v.u.s.p[SL_EXPR_STR_MAX - 1], 'b');
        assert_int_equal(sl_prog_overflows(p), 0);
        sl_prog_free(p);
        /* one byte more is not */
        expect_overflow(CALL("CONCAT", SN('a', half), SN('b', half), S("!"), NULL));
        expect_overflow(BIN(SN('a', half + 1), SL_OP_ADD, SN('b', half)));
        expect_overflow(CALL("FORMAT", S("%s%s"), SN('a', half), SN('b', half + 1), NULL));
        expect_overflow(CALL("FORMAT", S("%s%255s"), SN('a', SL_EXPR_STR_MAX - 254), S("x"), NULL));
        /* the NULL propagates like any NULL */
        expect_bool(ISNULL(CALL("CONCAT", SN('a', SL_EXPR_STR_MAX), S("!"), NULL), false), 1);
        p = compile_ok(CALL("COALESCE", CALL("CONCAT", SN('a', SL_EXPR_STR_MAX), S("!"), NULL),
                            S("too long"), NULL));
        sl_prog_eval(p, env, &v);
        assert_int_equal(v.type, SL_T_STRING);
        assert_memory_equal(v.u.s.p, "too long", 8);
        assert_int_equal(sl_prog_overflows(p), 1);
        sl_prog_free(p);

        /* Nested CONCATs reuse the space of their operands: 200 levels of
         * 100 bytes each would need 2 MB without it, 20 kB with. */
        char *big = malloc(200 * 80 + 1);
        struct sl_expr *e = S("");
        size_t len = 0;
        for (int k = 0; k < 200; k++) {
                e = CALL("CONCAT", e, SN((char)('a' + k % 26), 80), NULL);
                memset(big + len, 'a' + k % 26, 80);
                len += 80;
        }
        big[len] = '\0';
        expect_str(e, big);
        free(big);

        /* Strings still held lower on the stack are not overwritten: the
         * LEAST result (built) stays while CAST and CONCAT build above it. */
        set_s(2, "k", 1);
        set_i(0, 42);
        expect_str(BIN(CALL("LEAST", CALL("CONCAT", COL("s"), S("2"), NULL),
                            CALL("CONCAT", COL("s"), S("1"), NULL), NULL),
                       SL_OP_CONCAT,
                       BIN(CAST(COL("i"), SL_T_STRING), SL_OP_CONCAT,
                           CALL("FORMAT", S("[%s|%s]"), CALL("CONCAT", S("x"), COL("s"), NULL),
                                CAST(D(0.5), SL_T_STRING), NULL))),
                   "k142[xk|0.5]");
        expect_str(CALL("CONCAT", CALL("GREATEST", CALL("CONCAT", COL("s"), S("2"), NULL),
                                       CALL("CONCAT", COL("s"), S("1"), NULL), NULL),
                        CAST(COL("i"), SL_T_STRING), CAST(B(true), SL_T_STRING), NULL),
                   "k242true");
        expect_str(CASE(true, true, CALL("CONCAT", COL("s"), S("x"), NULL),
                        S("kx"), CALL("CONCAT", S("<"), CAST(COL("i"), SL_T_STRING), S(">"), NULL),
                        S("no"), NULL),
                   "<42>");
}

static void test_format(void **state)
{
        (void)state;
        env_reset();
        /* the alert text of use case 2 */
        expect_str(CALL("FORMAT", S("Account %d has $%.2f activity in 1 minute (threshold: $%.1f)"),
                        I(9999), D(7500.0), D(5000.0), NULL),
                   "Account 9999 has $7500.00 activity in 1 minute (threshold: $5000.0)");
        /* %s of every type: Java's text; NULL is "null" for every conversion */
        expect_str(CALL("FORMAT", S("%s|%s|%s|%s|%s|%s"), S("x"), I(42), D(2.5), D(1e7), B(true),
                        NUL(), NULL),
                   "x|42|2.5|1.0E7|true|null");
        expect_str(CALL("FORMAT", S("%d %.2f %5s|%-5d|"), COL("i"), COL("d"), COL("s"), COL("j"), NULL),
                   "null null  null|null |");
        /* %d with flags and widths */
        static const struct {
                const char *fmt;
                int64_t v;
                const char *out;
        } ds[] = {
                {"%d", 42, "42"}, {"%5d", 42, "   42"}, {"%-5d|", 42, "42   |"},
                {"%05d", 42, "00042"}, {"%05d", -42, "-0042"}, {"%+d", 42, "+42"},
                {"% d", 42, " 42"}, {"%+d", -42, "-42"}, {"%,d", 1234567, "1,234,567"},
                {"%,d", -1234, "-1,234"}, {"%,d", 999, "999"}, {"%d", INT64_MIN, "-9223372036854775808"},
                {"%,d", INT64_MIN, "-9,223,372,036,854,775,808"}, {"%2d", 12345, "12345"},
                {"%,010d", 1234567, "01,234,567"},
        };
        for (size_t k = 0; k < sizeof ds / sizeof ds[0]; k++)
                expect_str(CALL("FORMAT", S(ds[k].fmt), I(ds[k].v), NULL), ds[k].out);
        /* %f rounds the shortest decimal half up, as java.util.Formatter */
        static const struct {
                const char *fmt;
                double v;
                const char *out;
        } fs[] = {
                {"%.2f", 2.675, "2.68"}, {"%.2f", 1.005, "1.01"}, {"%.1f", 0.05, "0.1"},
                {"%.1f", 0.15, "0.2"}, {"%.0f", 2.5, "3"}, {"%.0f", -2.5, "-3"},
                {"%.0f", 0.4, "0"}, {"%.2f", -0.001, "-0.00"}, {"%.2f", -0.0, "-0.00"},
                {"%f", 1.5, "1.500000"}, {"%.3f", 1e-10, "0.000"}, {"%.2f", 9.995, "10.00"},
                {"%.2f", 1e20, "100000000000000000000.00"}, {"%,.2f", 1234567.891, "1,234,567.89"},
                {"%,.2f", 999.999, "1,000.00"}, {"%08.2f", -3.14159, "-0003.14"},
                {"%+.1f", 2.0, "+2.0"}, {"% .1f", 2.0, " 2.0"}, {"%-8.1f|", 2.0, "2.0     |"},
                {"%.30f", 0.1, "0.100000000000000000000000000000"}, {"%.2f", NAN, "NaN"},
                {"%6.2f", NAN, "   NaN"}, {"%08.1f", INFINITY, "Infinity"}, {"%+f", INFINITY, "+Infinity"},
                {"%10f", -INFINITY, " -Infinity"}, {"%.1f", 5e-324, "0.0"},
        };
        for (size_t k = 0; k < sizeof fs / sizeof fs[0]; k++)
                expect_str(CALL("FORMAT", S(fs[k].fmt), D(fs[k].v), NULL), fs[k].out);
        /* the largest double: its 17 digits, then zeros, 309 in all */
        char huge[400];
        memcpy(huge, "17976931348623157", 17);
        memset(huge + 17, '0', 292);
        memcpy(huge + 309, ".00", 4);
        expect_str(CALL("FORMAT", S("%.2f"), D(1.7976931348623157e308), NULL), huge);
        expect_str(CALL("FORMAT", S("%.2f"), I(5), NULL), "5.00"); /* integers allowed */
        set_i(4, -7);
        expect_str(CALL("FORMAT", S("%.1f|%d"), COL("n"), COL("n"), NULL), "-7.0|-7");
        /* %s pads by characters, not bytes */
        expect_str(CALL("FORMAT", S("%4s|%-3s|"), S("\xc3\xa9"), S("ab"), NULL), "   \xc3\xa9|ab |");
        expect_str(CALL("FORMAT", S("%2s"), S("long"), NULL), "long");
        /* literal text, %% and %n */
        expect_str(CALL("FORMAT", S("100%% sure%n"), NULL), "100% sure\n");
        expect_str(CALL("FORMAT", S("plain"), NULL), "plain");
        expect_str(CALL("FORMAT", S(""), NULL), "");
        expect_str(CALL("FORMAT", S("%s"), S(""), NULL), "");
        /* nested */
        expect_str(CALL("FORMAT", S("<%s>"), CALL("FORMAT", S("%d%%"), I(5), NULL), NULL), "<5%>");

        struct sl_expr *a, *e;
        a = COL("s");
        expect_error(CALL("FORMAT", a, NULL), a,
                     "FORMAT needs a string literal as its format (it is checked when the pipeline is planned)");
        e = CALL("FORMAT", S("%d"), NULL);
        expect_error(e, e, "FORMAT: the format has 1 conversion but 0 arguments follow");
        e = CALL("FORMAT", S("%d %d"), I(1), NULL);
        expect_error(e, e, "FORMAT: the format has 2 conversions but 1 argument follows");
        e = CALL("FORMAT", S("x"), I(1), NULL);
        expect_error(e, e, "FORMAT: the format has 0 conversions but 1 argument follows");
        a = D(2.5);
        expect_error(CALL("FORMAT", S("%s %d"), I(1), a, NULL), a,
                     "FORMAT: %d (conversion 2) needs an integer, got DOUBLE (use %.0f, or ROUND or CAST)");
        a = S("x");
        expect_error(CALL("FORMAT", S("%f"), a, NULL), a, "FORMAT: %f (conversion 1) needs a number, got STRING");
        a = B(true);
        expect_error(CALL("FORMAT", S("%d"), a, NULL), a,
                     "FORMAT: %d (conversion 1) needs an integer, got BOOLEAN (use %.0f, or ROUND or CAST)");
        static const struct {
                const char *fmt;
                const char *msg;
        } bad[] = {
                {"%x", "FORMAT: unsupported conversion '%x' at position 1 of the format (supported: %s, %d, %f, %% and %n)"},
                {"ab %S", "FORMAT: unsupported conversion '%S' at position 4 of the format (supported: %s, %d, %f, %% and %n)"},
                {"%1$s", "FORMAT: unsupported conversion '%$' at position 1 of the format (supported: %s, %d, %f, %% and %n)"},
                {"ab%", "FORMAT: '%' at the end of the format (write %% for a percent sign)"},
                {"%5", "FORMAT: incomplete conversion at position 1 of the format (supported: %s, %d, %f, %% and %n)"},
                {"%--5d", "FORMAT: flag '-' given twice at position 1 of the format"},
                {"%05s", "FORMAT: %s takes no flag but '-' (position 1 of the format)"},
                {"%,s", "FORMAT: %s takes no flag but '-' (position 1 of the format)"},
                {"%.2d", "FORMAT: a precision only applies to %f (position 1 of the format)"},
                {"%.2s", "FORMAT: a precision only applies to %f (position 1 of the format)"},
                {"%+ d", "FORMAT: flags '+' and ' ' together at position 1 of the format"},
                {"%-05d", "FORMAT: flags '-' and '0' together at position 1 of the format"},
                {"%-d", "FORMAT: flag '-' needs a width at position 1 of the format"},
                {"%0d", "FORMAT: flag '0' needs a width at position 1 of the format"},
                {"%256d", "FORMAT: width above 255 at position 1 of the format"},
                {"%99999999999d", "FORMAT: width above 255 at position 1 of the format"},
                {"%.31f", "FORMAT: precision above 30 at position 1 of the format"},
                {"%.f", "FORMAT: '.' without digits at position 1 of the format"},
        };
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
                a = S(bad[k].fmt);
                expect_error(CALL("FORMAT", a, I(1), NULL), a, bad[k].msg);
        }
        e = CALL("FORMAT", NULL);
        expect_error(e, e, "FORMAT takes at least 1 argument, got 0");
}

static void test_unknown_functions(void **state)
{
        (void)state;
        static const struct {
                const char *name;
                const char *msg;
        } cases[] = {
                {"ROUDN", "unknown function 'ROUDN' (did you mean ROUND?)"},
                {"coalese", "unknown function 'coalese' (did you mean COALESCE?)"},
                {"CONCATT", "unknown function 'CONCATT' (did you mean CONCAT?)"},
                {"Greates", "unknown function 'Greates' (did you mean GREATEST?)"},
                {"COUNTT", "unknown function 'COUNTT' (did you mean COUNT?)"},
                {"summ", "unknown function 'summ' (did you mean SUM?)"},
                {"MEDIAN", "unknown function 'MEDIAN'"},
                {"UPPER", "unknown function 'UPPER'"},
                {"x", "unknown function 'x'"},
                {"FORMAT_STRING", "unknown function 'FORMAT_STRING'"},
        };
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
                struct sl_expr *e = CALL(cases[k].name, I(1), NULL);
                expect_error(BIN(I(1), SL_OP_ADD, e), e, cases[k].msg);
        }
        /* names are case-insensitive */
        expect_int(CALL("aBs", I(-1), NULL), 1);
}

/* Each thread has its own scratch: evaluations on several threads at
 * once build their strings without interfering. */
struct thread_arg {
        const struct sl_prog *p;
        int id;
        int bad;
};

static void *thread_main(void *arg)
{
        struct thread_arg *t = arg;
        struct sl_value e[NCOLS];
        for (size_t i = 0; i < NCOLS; i++)
                e[i] = (struct sl_value){.type = SL_T_NULL};
        char want[64];
        for (int k = 0; k < 20000; k++) {
                e[0] = (struct sl_value){.u.i = t->id * 100000 + k, .type = SL_T_BIGINT};
                struct sl_value v;
                sl_prog_eval(t->p, e, &v);
                int n = snprintf(want, sizeof want, "t%d:%d:%d", t->id, t->id * 100000 + k,
                                 t->id * 100000 + k);
                if (v.type != SL_T_STRING || v.u.s.len != (uint32_t)n || memcmp(v.u.s.p, want, (size_t)n))
                        t->bad++;
        }
        return NULL;
}

static void test_threads(void **state)
{
        (void)state;
        enum { NT = 4 };
        struct sl_expr *id = CAST(BIN(COL("i"), SL_OP_DIV, I(100000)), SL_T_STRING);
        struct sl_expr *e = CALL("FORMAT", S("t%s:%d:%s"), id, COL("i"),
                                 CAST(COL("i"), SL_T_STRING), NULL);
        struct sl_prog *p = compile_ok(e);
        pthread_t th[NT];
        struct thread_arg args[NT];
        for (int k = 0; k < NT; k++) {
                args[k] = (struct thread_arg){.p = p, .id = k + 1};
                assert_int_equal(pthread_create(&th[k], NULL, thread_main, &args[k]), 0);
        }
        for (int k = 0; k < NT; k++) {
                pthread_join(th[k], NULL);
                assert_int_equal(args[k].bad, 0);
        }
        assert_int_equal(sl_prog_overflows(p), 0);
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
                cmocka_unit_test_teardown(test_round, teardown),
                cmocka_unit_test_teardown(test_abs_ceil_floor, teardown),
                cmocka_unit_test_teardown(test_least_greatest, teardown),
                cmocka_unit_test_teardown(test_coalesce_ifnull, teardown),
                cmocka_unit_test_teardown(test_case, teardown),
                cmocka_unit_test_teardown(test_cast, teardown),
                cmocka_unit_test_teardown(test_concat, teardown),
                cmocka_unit_test_teardown(test_string_limits, teardown),
                cmocka_unit_test_teardown(test_format, teardown),
                cmocka_unit_test_teardown(test_unknown_functions, teardown),
                cmocka_unit_test_teardown(test_threads, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
