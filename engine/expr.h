/*
 * expr.h - expressions compiled once into a typed stack program.
 *
 * The planner compiles each WHERE, HAVING, SELECT item and aggregate
 * argument against an environment: an array of typed slots (the decoded
 * columns of a record, or the group key, aggregate results and window
 * bounds of an output row).  Names, types and operator overloads are all
 * resolved at compile time; evaluation is a loop over instructions with no
 * lookups, no allocation and no parsing.
 *
 * NULL follows SQL: operators and comparisons on NULL give NULL, AND/OR
 * use three-valued logic, IS [NOT] NULL is never NULL.  Integer division
 * or modulo by zero gives NULL (ksqlDB raises an error and drops the
 * record); double division follows IEEE 754.
 *
 * A program is immutable after compilation; any thread may evaluate it.
 */
#ifndef SL_EXPR_H
#define SL_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/sql/ast.h"
#include "engine/value.h"

struct sl_prog;

/*
 * The planner's hook: called for every COLUMN, CALL, WINDOWSTART and
 * WINDOWEND node.  Returns the environment slot that holds the node's
 * value (and its type in *type), or -1 with a message in err.
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

/* Evaluates p over env.  String results borrow from env or the program. */
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

#endif
