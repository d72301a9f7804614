/*
 * expr.h - expressions compiled once into a typed stack program.
 *
 * The planner compiles each WHERE, HAVING, SELECT item and aggregate
 * argument against an environment: an array of typed slots (the decoded
 * columns of a record, or the group key, aggregate results and window
 * bounds of an output row).  Names, types, operator overloads and scalar
 * functions are all resolved at compile time; evaluation is a loop over
 * instructions with no lookups, no allocation and no parsing.
 *
 * NULL follows SQL: operators and comparisons on NULL give NULL, AND/OR
 * use three-valued logic, IS [NOT] NULL is never NULL.  Integer division
 * or modulo by zero gives NULL (ksqlDB raises an error and drops the
 * record); double division follows IEEE 754.  The scalar functions (CASE,
 * CAST, ABS, CEIL, FLOOR, ROUND, LEAST, GREATEST, COALESCE, IFNULL, CONCAT,
 * ||, FORMAT) are described in docs/sql.md; a function whose result cannot
 * be computed (a CAST of text that is not a number) gives NULL, as ksqlDB
 * does after logging the failure.
 *
 * Strings that functions build (CONCAT, ||, + of strings, CAST to STRING,
 * FORMAT) are written into the evaluating thread's scratch buffer, a fixed
 * thread-local block: evaluation still allocates nothing.  A built string
 * longer than SL_EXPR_STR_MAX bytes, or one that does not fit in the
 * scratch next to the strings the same evaluation still holds, is NULL
 * instead, and the program counts it (sl_prog_overflows).
 *
 * A program is immutable after compilation except for that counter (a
 * relaxed atomic); any thread may evaluate it.
 */
#ifndef SL_EXPR_H
#define SL_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/sql/ast.h"
#include "engine/value.h"

/* The longest string a function builds; a longer result is NULL. */
#define SL_EXPR_STR_MAX 16384
/* Per-thread scratch for the strings of one evaluation. */
#define SL_EXPR_SCRATCH (4 * SL_EXPR_STR_MAX)

struct sl_prog;

/*
 * The planner's hook: called for every COLUMN, WINDOWSTART and WINDOWEND
 * node and for calls of aggregate functions (scalar functions are
 * compiled here; other names are unknown functions).  Returns the
 * environment slot that holds the node's value (and its type in *type),
 * or -1 with a message in err.
 */
typedef int (*sl_expr_resolve_fn)(void *ctx, const struct sl_expr *e,
                                  enum sl_type *type, char *err,
                                  size_t errlen);

struct sl_expr_error {
        struct sl_pos pos;
        char msg[256];
};

/* Returns the program (free with sl_prog_free) or NULL with *err set. */
struct sl_prog *sl_expr_compile(const struct sl_expr *e,
                                sl_expr_resolve_fn resolve, void *ctx,
                                struct sl_expr_error *err);
void sl_prog_free(struct sl_prog *p);

enum sl_type sl_prog_type(const struct sl_prog *p);

/*
 * Evaluates p over env.  A string result borrows from env, from the
 * program, or from the calling thread's scratch; the last stays valid
 * until the next sl_prog_eval or sl_prog_test on the same thread, so a
 * caller uses (or copies) one result before evaluating the next program.
 */
void sl_prog_eval(const struct sl_prog *p, const struct sl_value *env,
                  struct sl_value *out);

/* WHERE/HAVING: true only for a non-null TRUE. */
static inline bool sl_prog_test(const struct sl_prog *p,
                                const struct sl_value *env)
{
        struct sl_value v;
        sl_prog_eval(p, env, &v);
        return v.type == SL_T_BOOL && v.u.b;
}

/* If the program is a single slot load, the slot; else -1. */
int sl_prog_as_slot(const struct sl_prog *p);

/* Evaluations whose built string was too long and became NULL, so far. */
uint64_t sl_prog_overflows(const struct sl_prog *p);

#endif
