/*
 * plan.c - the planner: from a parsed script to a struct sl_plan.
 *
 * One pass over the statements in order, so that a query can only read a
 * stream declared above it (as in ksqlDB).  For each query it:
 *   - resolves the source and the WHERE clause against the source columns;
 *   - for CREATE TABLE AS SELECT, checks that GROUP BY names columns,
 *     collects the aggregate calls of SELECT and HAVING (deduplicated by
 *     their text), compiles their arguments against the source columns,
 *     and compiles SELECT and HAVING against the output environment
 *     (group values, window bounds, aggregate results; see plan.h);
 *   - names each output field (alias, column name, or KSQL_COL_<i>) and
 *     pre-encodes its JSON key.
 * Every error names the position of the construct at fault.
 *
 * Runs once at start, on the calling thread.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>

#include "engine/buf.h"
#include "engine/json_encode.h"
#include "engine/plan.h"

struct planner {
        struct sl_plan *p;
        struct sl_plan_error *err;
};

static int errorf(struct sl_plan_error *err, struct sl_pos pos,
                  const char *fmt, ...)
{
        va_list ap;
        err->pos = pos;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        /* A quoted name or string may hold line breaks, and the message is
         * printed as one "FILE:LINE:COL: message" line (as the parser's). */
        for (char *c = err->msg; *c; c++)
                if (*c == '\n' || *c == '\r')
                        *c = ' ';
        return -EINVAL;
}

static char *xstrdup(const char *s)
{
        return s ? strdup(s) : NULL;
}

/* ---- name resolution ---------------------------------------------- */

static int find_column(const struct sl_source *src, const char *name)
{
        for (uint32_t i = 0; i < src->ncols; i++)
                if (strcmp(src->cols[i].name, name) == 0)
                        return (int)i;
        return -1;
}

/* For "did you mean": the column that differs only by case. */
static const char *near_column(const struct sl_source *src, const char *name)
{
        for (uint32_t i = 0; i < src->ncols; i++)
                if (strcasecmp(src->cols[i].name, name) == 0)
                        return src->cols[i].name;
        return NULL;
}

static void unknown_column(const struct sl_source *src, const char *name,
                           char *err, size_t errlen)
{
        const char *near = near_column(src, name);
        const char *what = src->table ? "table" : "stream";
        if (near)
                snprintf(err, errlen,
                         "unknown column '%s' in %s '%s' (did you mean '%s'? names are case-sensitive)",
                         name, what, src->name, near);
        else
                snprintf(err, errlen, "unknown column '%s' in %s '%s'",
                         name, what, src->name);
}

/*
 * What a query's column names resolve against: its stream and, with a
 * JOIN, the table whose columns sit at value slots [base, base + ncols).
 * A qualifier names a side by its alias or, without one, by its name.
 */
struct cols_scope {
        const struct sl_source *src;
        const char *alias; /* the stream's alias, or NULL */
        const struct sl_source *tab; /* NULL: no JOIN */
        const char *tab_alias;
        uint32_t base;
};

static bool names_side(const char *q, const struct sl_source *s, const char *alias)
{
        return strcmp(q, alias ? alias : s->name) == 0;
}

static const char *side_name(const struct sl_source *s, const char *alias)
{
        return alias ? alias : s->name;
}

/* The value slot of column e (SL_EX_COLUMN) and its type; -1 with err. */
static int lookup_column(const struct cols_scope *cs, const struct sl_expr *e,
                         enum sl_type *type, char *err, size_t errlen)
{
        const struct sl_source *src = cs->src, *tab = cs->tab;
        int c;
        if (e->qualifier) {
                if (!tab && !names_side(e->qualifier, src, cs->alias)) {
                        snprintf(err, errlen, "'%s' is not the stream this query reads (%s)",
                                 e->qualifier, side_name(src, cs->alias));
                        return -1;
                }
                if (tab && !names_side(e->qualifier, src, cs->alias) &&
                    !names_side(e->qualifier, tab, cs->tab_alias)) {
                        snprintf(err, errlen,
                                 "'%s' is neither the stream (%s) nor the table (%s) of this query",
                                 e->qualifier, side_name(src, cs->alias),
                                 side_name(tab, cs->tab_alias));
                        return -1;
                }
                if (tab && names_side(e->qualifier, tab, cs->tab_alias)) {
                        if ((c = find_column(tab, e->name)) < 0) {
                                unknown_column(tab, e->name, err, errlen);
                                return -1;
                        }
                        *type = tab->cols[c].type;
                        return (int)cs->base + c;
                }
                if ((c = find_column(src, e->name)) < 0) {
                        unknown_column(src, e->name, err, errlen);
                        return -1;
                }
                *type = src->cols[c].type;
                return c;
        }
        c = find_column(src, e->name);
        int t = tab ? find_column(tab, e->name) : -1;
        if (c >= 0 && t >= 0) {
                snprintf(err, errlen, "ambiguous column '%s': %s and %s both have it; write %s.%s or %s.%s",
                         e->name, src->name, tab->name, side_name(src, cs->alias), e->name,
                         side_name(tab, cs->tab_alias), e->name);
                return -1;
        }
        if (c >= 0) {
                *type = src->cols[c].type;
                return c;
        }
        if (t >= 0) {
                *type = tab->cols[t].type;
                return (int)cs->base + t;
        }
        if (!tab || near_column(src, e->name))
                unknown_column(src, e->name, err, errlen);
        else if (near_column(tab, e->name))
                unknown_column(tab, e->name, err, errlen);
        else
                snprintf(err, errlen, "unknown column '%s' in stream '%s' or table '%s'",
                         e->name, src->name, tab->name);
        return -1;
}

struct src_scope {
        const struct sl_source *src;
        const struct cols_scope *cs; /* NULL: src alone */
        bool *used; /* marks columns read, or NULL */
        const char *where; /* "WHERE", "an aggregate argument", ... */
};

static int resolve_source(void *ctx, const struct sl_expr *e,
                          enum sl_type *type, char *err, size_t errlen)
{
        struct src_scope *sc = ctx;
        switch (e->kind) {
        case SL_EX_COLUMN: {
                struct cols_scope one = {.src = sc->src};
                int c = lookup_column(sc->cs ? sc->cs : &one, e, type, err, errlen);
                if (c < 0)
                        return -1;
                if (sc->used)
                        sc->used[c] = true;
                return c;
        }
        case SL_EX_WINDOWSTART:
        case SL_EX_WINDOWEND:
                snprintf(err, errlen,
                         "%s is only available in the SELECT or HAVING of a windowed aggregation",
                         e->kind == SL_EX_WINDOWSTART ? "WINDOWSTART" : "WINDOWEND");
                return -1;
        case SL_EX_CALL:
                if (sl_agg_lookup(e->name) >= 0)
                        snprintf(err, errlen,
                                 "aggregate function %s is not allowed in %s",
                                 e->name, sc->where);
                else
                        snprintf(err, errlen, "unknown function '%s'", e->name);
                return -1;
        default:
                snprintf(err, errlen, "unexpected expression");
                return -1;
        }
}

struct out_scope {
        struct planner *pl;
        struct sl_query *q;
        const struct sl_source *src;
        const struct cols_scope *cs; /* NULL: src alone */
        bool *used;
        int rc; /* error from a nested aggregate compile */
};

static char *expr_text(const struct sl_expr *e)
{
        char tmp[512];
        sl_expr_format(e, tmp, sizeof tmp);
        return strdup(tmp);
}

/*
 * The literal after the value of TOPK and TOPKDISTINCT (k, an integer in
 * [1, SL_AGG_TOPK_MAX]) or EMA (alpha, a number in (0, 1]), into d.
 * Errors are reported at the literal (sc->rc).
 */
static int agg_param(struct out_scope *sc, enum sl_agg_kind kind,
                     const struct sl_expr *p, struct sl_agg_desc *d)
{
        const char *name = sl_agg_name(kind);
        bool neg = p->kind == SL_EX_UNARY && p->op == SL_OP_NEG &&
                   (p->args[0]->kind == SL_EX_INT || p->args[0]->kind == SL_EX_DOUBLE);
        const struct sl_expr *lit = neg ? p->args[0] : p;
        if (kind == SL_AGG_EMA) {
                if (lit->kind != SL_EX_INT && lit->kind != SL_EX_DOUBLE)
                        return sc->rc = errorf(sc->pl->err, p->pos,
                                               "EMA's alpha must be a number literal in (0, 1]");
                double alpha = lit->kind == SL_EX_INT ? (double)lit->u.i : lit->u.d;
                if (neg)
                        alpha = -alpha;
                if (!(alpha > 0.0 && alpha <= 1.0))
                        return sc->rc = errorf(sc->pl->err, p->pos,
                                               "EMA's alpha must be in (0, 1], got %g", alpha);
                d->alpha = alpha;
                return 0;
        }
        if (lit->kind != SL_EX_INT)
                return sc->rc = errorf(sc->pl->err, p->pos,
                                       "%s's k must be an integer literal between 1 and %d",
                                       name, SL_AGG_TOPK_MAX);
        int64_t k = neg ? -lit->u.i : lit->u.i;
        if (k < 1 || k > SL_AGG_TOPK_MAX)
                return sc->rc = errorf(sc->pl->err, p->pos,
                                       "%s's k must be between 1 and %d, got %lld",
                                       name, SL_AGG_TOPK_MAX, (long long)k);
        d->k = (uint32_t)k;
        return 0;
}

static int add_aggregate(struct out_scope *sc, const struct sl_expr *e,
                         enum sl_type *type, char *err, size_t errlen)
{
        struct sl_query *q = sc->q;
        int kind = sl_agg_lookup(e->name);
        char *text = expr_text(e);
        if (!text) {
                snprintf(err, errlen, "out of memory");
                return -1;
        }
        /* Upper-case the function name so count(x) and COUNT(x) share. */
        for (char *c = text; *c && *c != '('; c++)
                if (*c >= 'a' && *c <= 'z')
                        *c = (char)(*c - 'a' + 'A');
        for (uint32_t i = 0; i < q->nagg; i++) {
                if (strcmp(q->aggs[i].text, text) == 0) {
                        free(text);
                        *type = q->aggs[i].type;
                        return (int)(q->ngroup + 2 + i);
                }
        }
        struct sl_agg a = {.arg_slot = -1, .text = text};
        if (e->star) {
                if (kind != SL_AGG_COUNT) {
                        snprintf(err, errlen, "%s(*) is not allowed; only COUNT(*)", e->name);
                        goto fail;
                }
                a.desc.kind = SL_AGG_COUNT_STAR;
                a.desc.arg_type = SL_T_NULL;
                a.type = SL_T_BIGINT;
        } else {
                uint32_t np = sl_agg_nparams((enum sl_agg_kind)kind);
                if (e->nargs != 1 + np) {
                        if (np == 0)
                                snprintf(err, errlen, "%s takes one argument, got %u",
                                         sl_agg_name((enum sl_agg_kind)kind), e->nargs);
                        else
                                snprintf(err, errlen, "%s takes two arguments (a value and %s), got %u",
                                         sl_agg_name((enum sl_agg_kind)kind),
                                         kind == SL_AGG_EMA ? "alpha" : "k", e->nargs);
                        goto fail;
                }
                if (np && agg_param(sc, (enum sl_agg_kind)kind, e->args[1], &a.desc) != 0)
                        goto fail_reported;
                if (!sl_agg_mergeable((enum sl_agg_kind)kind) && q->win.pane_per_window > 1) {
                        snprintf(err, errlen,
                                 "%s cannot be used in a HOPPING window: it depends on record order, "
                                 "which the window's panes do not keep (use a TUMBLING window or none)",
                                 sl_agg_name((enum sl_agg_kind)kind));
                        goto fail;
                }
                /* A record between two sessions merges their states, whose
                 * records interleave in arrival order. */
                if (!sl_agg_mergeable((enum sl_agg_kind)kind) && q->win.kind == SL_WIN_SESSION) {
                        snprintf(err, errlen,
                                 "%s cannot be used in a SESSION window: it depends on record order, "
                                 "which merging two sessions does not keep (use a TUMBLING window or none)",
                                 sl_agg_name((enum sl_agg_kind)kind));
                        goto fail;
                }
                struct src_scope ss = {.src = sc->src, .cs = sc->cs, .used = sc->used,
                                       .where = "another aggregate's argument"};
                struct sl_expr_error xe;
                a.arg = sl_expr_compile(e->args[0], resolve_source, &ss, &xe);
                if (!a.arg) {
                        /* Report at the inner position: hand it back via rc. */
                        errorf(sc->pl->err, xe.pos, "%s", xe.msg);
                        sc->rc = -EINVAL;
                        snprintf(err, errlen, "%s", xe.msg);
                        goto fail;
                }
                a.arg_slot = sl_prog_as_slot(a.arg);
                a.desc.kind = (enum sl_agg_kind)kind;
                a.desc.arg_type = sl_prog_type(a.arg);
                const char *why = "";
                a.type = sl_agg_result_type(a.desc.kind, a.desc.arg_type, &why);
                if (a.type == SL_T_NULL) {
                        snprintf(err, errlen, "%s %s, found %s",
                                 sl_agg_name(a.desc.kind), why,
                                 sl_type_name(a.desc.arg_type));
                        goto fail;
                }
        }
        if (q->nagg == SL_MAX_AGGS) {
                snprintf(err, errlen, "too many aggregates (at most %d)", SL_MAX_AGGS);
                goto fail;
        }
        a.desc.off = q->acc_bytes;
        q->acc_bytes += sl_agg_state_size(&a.desc);
        struct sl_agg *n = realloc(q->aggs, (q->nagg + 1) * sizeof *n);
        if (!n) {
                snprintf(err, errlen, "out of memory");
                goto fail;
        }
        q->aggs = n;
        q->aggs[q->nagg] = a;
        *type = a.type;
        return (int)(q->ngroup + 2 + q->nagg++);
fail_reported:
        snprintf(err, errlen, "%s", sc->pl->err->msg);
fail:
        sl_prog_free(a.arg);
        free(text);
        return -1;
}

static int resolve_output(void *ctx, const struct sl_expr *e,
                          enum sl_type *type, char *err, size_t errlen)
{
        struct out_scope *sc = ctx;
        struct sl_query *q = sc->q;
        switch (e->kind) {
        case SL_EX_COLUMN: {
                struct cols_scope one = {.src = sc->src};
                int slot = lookup_column(sc->cs ? sc->cs : &one, e, type, err, errlen);
                if (slot < 0)
                        return -1;
                for (uint32_t g = 0; g < q->ngroup; g++)
                        if (q->group_cols[g] == (uint32_t)slot)
                                return (int)g;
                snprintf(err, errlen,
                         "column '%s' must be in GROUP BY or inside an aggregate function",
                         e->name);
                return -1;
        }
        case SL_EX_WINDOWSTART:
        case SL_EX_WINDOWEND:
                if (q->win.kind == SL_WIN_NONE) {
                        snprintf(err, errlen, "%s needs a WINDOW clause",
                                 e->kind == SL_EX_WINDOWSTART ? "WINDOWSTART" : "WINDOWEND");
                        return -1;
                }
                *type = SL_T_BIGINT;
                return (int)(q->ngroup + (e->kind == SL_EX_WINDOWEND));
        case SL_EX_CALL:
                if (sl_agg_lookup(e->name) < 0) {
                        snprintf(err, errlen, "unknown function '%s'", e->name);
                        return -1;
                }
                return add_aggregate(sc, e, type, err, errlen);
        default:
                snprintf(err, errlen, "unexpected expression");
                return -1;
        }
}

/* ---- statements --------------------------------------------------- */

static const struct sl_prop *find_prop(const struct sl_stmt *st,
                                       const char *name)
{
        for (uint32_t i = 0; i < st->nprops; i++)
                if (strcasecmp(st->props[i].name, name) == 0)
                        return &st->props[i];
        return NULL;
}

static int check_props(struct planner *pl, const struct sl_stmt *st,
                       const char *const *allowed)
{
        for (uint32_t i = 0; i < st->nprops; i++) {
                const struct sl_prop *pr = &st->props[i];
                bool ok = false;
                for (const char *const *a = allowed; *a; a++)
                        ok |= strcasecmp(pr->name, *a) == 0;
                if (!ok) {
                        char list[256] = "";
                        for (const char *const *a = allowed; *a; a++) {
                                strncat(list, *a, sizeof list - strlen(list) - 3);
                                if (a[1])
                                        strncat(list, ", ", sizeof list - strlen(list) - 1);
                        }
                        return errorf(pl->err, pr->pos,
                                      "unknown property '%s' (expected one of %s)",
                                      pr->name, list);
                }
                for (uint32_t j = 0; j < i; j++)
                        if (strcasecmp(st->props[j].name, pr->name) == 0)
                                return errorf(pl->err, pr->pos,
                                              "property '%s' given twice", pr->name);
        }
        return 0;
}

static int string_prop(struct planner *pl, const struct sl_stmt *st,
                       const char *name, const char **out)
{
        const struct sl_prop *pr = find_prop(st, name);
        *out = NULL;
        if (!pr)
                return 0;
        if (!pr->is_string)
                return errorf(pl->err, pr->value_pos,
                              "property %s needs a string value, e.g. %s='...'",
                              name, name);
        *out = pr->str;
        return 0;
}

static int check_format(struct planner *pl, const struct sl_stmt *st,
                        enum sl_format *format)
{
        const char *fmt;
        int rc = string_prop(pl, st, "VALUE_FORMAT", &fmt);
        if (rc)
                return rc;
        *format = SL_FMT_JSON;
        if (fmt && strcasecmp(fmt, "FLATBUFFERS") == 0)
                *format = SL_FMT_FLATBUFFERS;
        else if (fmt && strcasecmp(fmt, "JSON") != 0)
                return errorf(pl->err, find_prop(st, "VALUE_FORMAT")->value_pos,
                              "VALUE_FORMAT '%s' is not supported (supported: JSON, FLATBUFFERS)", fmt);
        return 0;
}

static int name_taken(struct planner *pl, const char *name, struct sl_pos pos)
{
        for (uint32_t i = 0; i < pl->p->nsources; i++)
                if (strcasecmp(pl->p->sources[i].name, name) == 0)
                        return errorf(pl->err, pos, "'%s' is already defined", name);
        for (uint32_t i = 0; i < pl->p->nqueries; i++)
                if (strcasecmp(pl->p->queries[i].name, name) == 0)
                        return errorf(pl->err, pos, "'%s' is already defined", name);
        return 0;
}

static int plan_set(struct planner *pl, const struct sl_stmt *st)
{
        struct sl_plan *p = pl->p;
        for (uint32_t i = 0; i < p->nsettings; i++) {
                if (strcmp(p->settings[i].key, st->set_key) == 0) {
                        char *v = xstrdup(st->set_value);
                        if (!v)
                                return -ENOMEM;
                        free(p->settings[i].value);
                        p->settings[i].value = v;
                        return 0;
                }
        }
        struct sl_setting *n = realloc(p->settings, (p->nsettings + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        p->settings = n;
        n[p->nsettings].key = xstrdup(st->set_key);
        n[p->nsettings].value = xstrdup(st->set_value);
        p->nsettings++;
        return 0;
}

static int plan_stream(struct planner *pl, const struct sl_stmt *st)
{
        static const char *const allowed[] = {"KAFKA_TOPIC", "VALUE_FORMAT",
                                              "KEY_FORMAT", "TIMESTAMP",
                                              "PARTITIONS", "REPLICAS", NULL};
        /* A table is state, not events: no TIMESTAMP (see docs/sql.md). */
        static const char *const table_allowed[] = {"KAFKA_TOPIC", "VALUE_FORMAT",
                                                    "KEY_FORMAT", "PARTITIONS",
                                                    "REPLICAS", NULL};
        struct sl_plan *p = pl->p;
        bool table = st->kind == SL_ST_CREATE_TABLE;
        enum sl_format format;
        int rc = name_taken(pl, st->name, st->name_pos);
        if (rc == 0)
                rc = check_props(pl, st, table ? table_allowed : allowed);
        if (rc == 0)
                rc = check_format(pl, st, &format);
        if (rc)
                return rc;
        if (table && format == SL_FMT_FLATBUFFERS)
                return errorf(pl->err, find_prop(st, "VALUE_FORMAT")->value_pos,
                              "VALUE_FORMAT 'FLATBUFFERS' is not supported for tables yet (use JSON)");
        if (table && st->ncols >= SL_MAX_COLS)
                return errorf(pl->err, st->cols[SL_MAX_COLS - 1].pos,
                              "too many columns (at most %d in a table)", SL_MAX_COLS - 1);
        int pk = -1;
        for (uint32_t i = 0; table && i < st->ncols; i++) {
                const struct sl_column_def *c = &st->cols[i];
                if (c->key && !c->primary)
                        return errorf(pl->err, c->pos,
                                      "a table's key is declared PRIMARY KEY ('%s' is declared KEY, which is for streams)",
                                      c->name);
                if (c->primary && pk >= 0)
                        return errorf(pl->err, c->pos,
                                      "table '%s' has two PRIMARY KEY columns ('%s' and '%s'); a table has one",
                                      st->name, st->cols[pk].name, c->name);
                if (c->primary)
                        pk = (int)i;
                if (strcmp(c->name, SL_TABLE_DELETED) == 0)
                        return errorf(pl->err, c->pos,
                                      "column name '%s' is reserved in tables (it marks a delete in a file)",
                                      c->name);
        }
        if (table && pk < 0)
                return errorf(pl->err, st->name_pos,
                              "table '%s' needs a PRIMARY KEY column (the key its rows are kept by), "
                              "e.g. id STRING PRIMARY KEY",
                              st->name);
        if (st->ncols == 0)
                return errorf(pl->err, st->name_pos, "stream '%s' declares no columns", st->name);
        if (st->ncols > SL_MAX_COLS)
                return errorf(pl->err, st->cols[SL_MAX_COLS].pos,
                              "too many columns (at most %d)", SL_MAX_COLS);
        struct sl_source *n = realloc(p->sources, (p->nsources + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        p->sources = n;
        struct sl_source *src = &p->sources[p->nsources++];
        *src = (struct sl_source){.ts_col = -1, .format = format, .table = table, .pk_col = pk};
        src->name = xstrdup(st->name);
        src->cols = calloc(st->ncols, sizeof *src->cols);
        if (!src->name || !src->cols)
                return -ENOMEM;
        for (uint32_t i = 0; i < st->ncols; i++) {
                const struct sl_column_def *c = &st->cols[i];
                for (uint32_t j = 0; j < i; j++)
                        if (strcmp(st->cols[j].name, c->name) == 0)
                                return errorf(pl->err, c->pos, "column '%s' declared twice", c->name);
                src->cols[i].name = xstrdup(c->name);
                if (!src->cols[i].name)
                        return -ENOMEM;
                src->cols[i].type = c->type;
                src->cols[i].key = c->key;
                src->ncols++;
        }
        src->nslots = src->ncols;
        const char *topic, *ts;
        if ((rc = string_prop(pl, st, "KAFKA_TOPIC", &topic)) != 0 ||
            (rc = string_prop(pl, st, "TIMESTAMP", &ts)) != 0)
                return rc;
        src->topic = xstrdup(topic ? topic : st->name);
        if (!src->topic)
                return -ENOMEM;
        if (ts) {
                const struct sl_prop *pr = find_prop(st, "TIMESTAMP");
                src->ts_col = find_column(src, ts);
                if (src->ts_col < 0) {
                        char msg[256];
                        unknown_column(src, ts, msg, sizeof msg);
                        return errorf(pl->err, pr->value_pos, "TIMESTAMP: %s", msg);
                }
                if (!sl_type_is_int(src->cols[src->ts_col].type))
                        return errorf(pl->err, pr->value_pos,
                                      "TIMESTAMP column '%s' must be BIGINT (epoch milliseconds), not %s",
                                      ts, sl_type_name(src->cols[src->ts_col].type));
        }
        struct sl_json_field f[SL_MAX_COLS];
        for (uint32_t i = 0; i < src->ncols; i++)
                f[i] = (struct sl_json_field){.name = src->cols[i].name,
                                              .type = src->cols[i].type};
        if (table)
                f[src->ncols] = (struct sl_json_field){.name = SL_TABLE_DELETED,
                                                       .type = SL_T_BOOL};
        src->js = sl_json_schema_new(f, src->ncols + table);
        if (!src->js)
                return -ENOMEM;
        if (format == SL_FMT_FLATBUFFERS) {
                /* Queries mark the columns they read (plan_query). */
                enum sl_type types[SL_MAX_COLS];
                for (uint32_t i = 0; i < src->ncols; i++)
                        types[i] = src->cols[i].type;
                if (!(src->fb = sl_fb_schema_new(types, src->ncols)))
                        return -ENOMEM;
                if (src->ts_col >= 0)
                        sl_fb_schema_read(src->fb, (uint32_t)src->ts_col);
        }
        return 0;
}

static int add_output(struct planner *pl, struct sl_query *q,
                      const struct sl_select_item *it, uint32_t idx,
                      struct sl_prog *prog)
{
        struct sl_output_col *o = &q->out[q->nout];
        char gen[32];
        const char *name = it->alias;
        if (!name && it->expr->kind == SL_EX_COLUMN)
                name = it->expr->name;
        if (!name && it->expr->kind == SL_EX_WINDOWSTART)
                name = "WINDOWSTART";
        if (!name && it->expr->kind == SL_EX_WINDOWEND)
                name = "WINDOWEND";
        if (!name) {
                snprintf(gen, sizeof gen, "KSQL_COL_%u", idx);
                name = gen;
        }
        for (uint32_t i = 0; i < q->nout; i++)
                if (strcmp(q->out[i].name, name) == 0) {
                        sl_prog_free(prog);
                        return errorf(pl->err, it->pos,
                                      "output field '%s' appears twice; give one an alias with AS",
                                      name);
                }
        o->prog = prog;
        o->name = xstrdup(name);
        o->text = expr_text(it->expr);
        struct sl_buf b = {0};
        sl_json_put_string(&b, name, strlen(name));
        sl_buf_addc(&b, ':');
        sl_buf_addc(&b, '\0');
        o->json_key = b.p;
        o->json_key_len = (uint32_t)b.len - 1;
        q->nout++;
        if (!o->name || !o->text || !sl_buf_ok(&b))
                return -ENOMEM;
        return 0;
}

static int compile_into(struct planner *pl, struct sl_prog **out,
                        const struct sl_expr *e, sl_expr_resolve_fn fn,
                        void *ctx, int *nested_rc)
{
        struct sl_expr_error xe;
        *out = sl_expr_compile(e, fn, ctx, &xe);
        if (*out)
                return 0;
        if (nested_rc && *nested_rc)
                return *nested_rc; /* already reported at the inner node */
        return errorf(pl->err, xe.pos, "%s", xe.msg);
}

/*
 * The JOIN of sel, if any: checks the table and ON (a stream column equal
 * to the table's PRIMARY KEY), attaches the join to the stream (shared
 * with earlier queries joining the same table on the same column) and
 * fills the query's column scope.  *join is -1 without a JOIN.
 */
static int plan_join(struct planner *pl, const struct sl_select *sel, uint32_t si,
                     struct cols_scope *cs, int *join)
{
        struct sl_plan *p = pl->p;
        struct sl_source *src = &p->sources[si];
        const struct sl_join_def *jd = &sel->join;
        *cs = (struct cols_scope){.src = src, .alias = sel->from_alias};
        *join = -1;
        if (src->table && !jd->present)
                return errorf(pl->err, sel->from_pos,
                              "'%s' is a table: a query reads a stream (FROM) and joins tables with [LEFT] JOIN ... ON",
                              src->name);
        if (!jd->present)
                return 0;
        int ti = sl_plan_source_index(p, jd->table);
        if (ti < 0) {
                for (uint32_t i = 0; i < p->nqueries; i++)
                        if (strcmp(p->queries[i].name, jd->table) == 0)
                                return errorf(pl->err, jd->table_pos,
                                              "joining '%s', the output of another query, is not supported yet: "
                                              "declare its topic with CREATE TABLE %s (...) WITH (...)",
                                              jd->table, jd->table);
                return errorf(pl->err, jd->table_pos,
                              "unknown table '%s' (declare it with CREATE TABLE %s (... PRIMARY KEY) WITH (...) above this query)",
                              jd->table, jd->table);
        }
        struct sl_source *tab = &p->sources[ti];
        if (src->table && tab->table)
                return errorf(pl->err, sel->from_pos,
                              "a table-table join is not supported: FROM names a stream, JOIN a table");
        if (src->table)
                return errorf(pl->err, sel->from_pos,
                              "'%s' is a table: write the stream first (FROM %s ... JOIN %s)",
                              src->name, tab->name, src->name);
        if (!tab->table)
                return errorf(pl->err, jd->table_pos,
                              "'%s' is a stream: stream-stream joins (WITHIN) are not supported yet; "
                              "JOIN a table declared with CREATE TABLE",
                              tab->name);
        if (strcmp(side_name(src, sel->from_alias), side_name(tab, jd->alias)) == 0)
                return errorf(pl->err, jd->alias ? jd->alias_pos : jd->table_pos,
                              "'%s' names both sides of the join: give them different aliases",
                              side_name(tab, jd->alias));
        cs->tab = tab;
        cs->tab_alias = jd->alias;
        cs->base = src->ncols; /* provisional: tells the sides apart below */

        const struct sl_expr *on = jd->on;
        if (on->kind != SL_EX_BINARY || on->op != SL_OP_EQ ||
            on->args[0]->kind != SL_EX_COLUMN || on->args[1]->kind != SL_EX_COLUMN)
                return errorf(pl->err, on->pos,
                              "JOIN ... ON must be a stream column = the table's PRIMARY KEY, e.g. ON o.customerId = c.id");
        int slot[2];
        enum sl_type type[2];
        for (int i = 0; i < 2; i++) {
                char msg[256];
                if ((slot[i] = lookup_column(cs, on->args[i], &type[i], msg, sizeof msg)) < 0)
                        return errorf(pl->err, on->args[i]->pos, "%s", msg);
        }
        bool tab0 = slot[0] >= (int)src->ncols, tab1 = slot[1] >= (int)src->ncols;
        if (tab0 == tab1)
                return errorf(pl->err, on->pos,
                              "JOIN ... ON must compare a column of %s with the PRIMARY KEY of %s; both sides are %s columns",
                              src->name, tab->name, tab0 ? tab->name : src->name);
        int ts = tab0 ? 0 : 1, ss = 1 - ts;
        uint32_t tcol = (uint32_t)slot[ts] - src->ncols;
        if ((int)tcol != tab->pk_col)
                return errorf(pl->err, on->args[ts]->pos,
                              "a stream-table join must be ON the table's PRIMARY KEY '%s'; '%s' is not it",
                              tab->cols[tab->pk_col].name, tab->cols[tcol].name);
        if (type[0] != type[1] && !(sl_type_is_int(type[0]) && sl_type_is_int(type[1])))
                return errorf(pl->err, on->pos,
                              "JOIN ... ON compares %s (%s) with %s (%s): the types must match",
                              on->args[ss]->name, sl_type_name(type[ss]),
                              on->args[ts]->name, sl_type_name(type[ts]));

        uint32_t key_slot = (uint32_t)slot[ss];
        for (uint32_t j = 0; j < src->njoins; j++)
                if (src->joins[j].table == (uint32_t)ti && src->joins[j].key_slot == key_slot) {
                        *join = (int)j;
                        cs->base = src->joins[j].base;
                        return 0;
                }
        if (src->nslots + tab->ncols > SL_MAX_COLS)
                return errorf(pl->err, jd->table_pos,
                              "too many columns in stream '%s' and its joined tables (at most %d)",
                              src->name, SL_MAX_COLS);
        struct sl_join *nj = realloc(src->joins, (src->njoins + 1) * sizeof *nj);
        if (!nj)
                return -ENOMEM;
        src->joins = nj;
        nj[src->njoins] = (struct sl_join){.table = (uint32_t)ti, .key_slot = key_slot,
                                           .base = src->nslots};
        cs->base = src->nslots;
        src->nslots += tab->ncols;
        *join = (int)src->njoins++;
        tab->joined = true;
        if (src->fb)
                sl_fb_schema_read(src->fb, key_slot);
        return 0;
}

static int plan_query(struct planner *pl, const struct sl_stmt *st)
{
        static const char *const allowed[] = {"KAFKA_TOPIC", "VALUE_FORMAT",
                                              "KEY_FORMAT", "PARTITIONS",
                                              "REPLICAS", NULL};
        struct sl_plan *p = pl->p;
        const struct sl_select *sel = st->select;
        bool table = st->kind == SL_ST_CREATE_TABLE_AS;
        enum sl_format format;
        int rc = name_taken(pl, st->name, st->name_pos);
        if (rc == 0)
                rc = check_props(pl, st, allowed);
        if (rc == 0)
                rc = check_format(pl, st, &format);
        if (rc)
                return rc;
        int si = sl_plan_source_index(p, sel->from);
        if (si < 0) {
                for (uint32_t i = 0; i < p->nqueries; i++)
                        if (strcmp(p->queries[i].name, sel->from) == 0)
                                return errorf(pl->err, sel->from_pos,
                                              "reading from '%s', the output of another query, is not supported yet: "
                                              "declare its topic with CREATE STREAM (...) and run it as a second pipeline",
                                              sel->from);
                return errorf(pl->err, sel->from_pos,
                              "unknown stream '%s' (declare it with CREATE STREAM %s (...) WITH (...) above this query)",
                              sel->from, sel->from);
        }
        struct cols_scope cs;
        int join;
        if ((rc = plan_join(pl, sel, (uint32_t)si, &cs, &join)) != 0)
                return rc;
        struct sl_query *n = realloc(p->queries, (p->nqueries + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        p->queries = n;
        struct sl_query *q = &p->queries[p->nqueries];
        *q = (struct sl_query){.index = p->nqueries++, .source = (uint32_t)si, .format = format,
                               .join = join, .join_left = sel->join.left};
        const struct sl_source *src = &p->sources[si];
        q->name = xstrdup(st->name);
        const char *topic;
        if ((rc = string_prop(pl, st, "KAFKA_TOPIC", &topic)) != 0)
                return rc;
        q->topic = xstrdup(topic ? topic : st->name);
        q->out = calloc(sel->nitems, sizeof *q->out);
        if (!q->name || !q->topic || !q->out)
                return -ENOMEM;
        for (uint32_t i = 0; i < q->index; i++)
                if (strcmp(p->queries[i].topic, q->topic) == 0 && p->queries[i].format != format)
                        return errorf(pl->err, st->name_pos,
                                      "query '%s' writes topic '%s' in another VALUE_FORMAT than query '%s'",
                                      q->name, q->topic, p->queries[i].name);
        q->kind = table ? SL_Q_AGGREGATE : SL_Q_PROJECT;

        bool where_used[SL_MAX_COLS] = {0}; /* read by decoding, not copied to workers */
        if (sel->where) {
                struct src_scope ss = {.src = src, .cs = &cs, .used = where_used,
                                       .where = "WHERE (use HAVING to filter aggregates)"};
                if ((rc = compile_into(pl, &q->where, sel->where, resolve_source, &ss, NULL)) != 0)
                        return rc;
                if (!(q->where_text = expr_text(sel->where)))
                        return -ENOMEM;
                if (sl_prog_type(q->where) != SL_T_BOOL && sl_prog_type(q->where) != SL_T_NULL)
                        return errorf(pl->err, sel->where->pos,
                                      "WHERE needs a BOOLEAN condition, found %s",
                                      sl_type_name(sl_prog_type(q->where)));
        }
        bool used[SL_MAX_COLS] = {0};

        if (!table) {
                if (sel->window.kind != SL_WIN_NONE)
                        return errorf(pl->err, sel->window.pos,
                                      "WINDOW needs an aggregation: use CREATE TABLE ... AS SELECT ... GROUP BY");
                if (sel->ngroup)
                        return errorf(pl->err, sel->group_pos,
                                      "GROUP BY makes a table: use CREATE TABLE ... AS SELECT");
                if (sel->having)
                        return errorf(pl->err, sel->having->pos, "HAVING needs GROUP BY");
                if (sel->emit == SL_EMIT_FINAL)
                        return errorf(pl->err, sel->emit_pos,
                                      "EMIT FINAL applies to windowed tables; a stream emits changes");
                struct src_scope ss = {.src = src, .cs = &cs, .used = used,
                                       .where = "a stream's SELECT (aggregates need CREATE TABLE ... GROUP BY)"};
                for (uint32_t i = 0; i < sel->nitems; i++) {
                        struct sl_prog *prog;
                        if ((rc = compile_into(pl, &prog, sel->items[i].expr, resolve_source, &ss, NULL)) != 0 ||
                            (rc = add_output(pl, q, &sel->items[i], i, prog)) != 0)
                                return rc;
                }
                q->emit = SL_EMIT_CHANGES;
                goto used_cols;
        }

        if (sel->ngroup == 0)
                return errorf(pl->err, sel->pos,
                              "CREATE TABLE AS SELECT needs GROUP BY (a table is keyed by its group)");
        if (sel->ngroup > SL_MAX_GROUP)
                return errorf(pl->err, sel->group[SL_MAX_GROUP]->pos,
                              "too many GROUP BY columns (at most %d)", SL_MAX_GROUP);
        for (uint32_t g = 0; g < sel->ngroup; g++) {
                const struct sl_expr *ge = sel->group[g];
                if (ge->kind != SL_EX_COLUMN)
                        return errorf(pl->err, ge->pos,
                                      "GROUP BY supports column names only; found an expression");
                char msg[256];
                enum sl_type gt;
                int c = lookup_column(&cs, ge, &gt, msg, sizeof msg);
                if (c < 0)
                        return errorf(pl->err, ge->pos, "%s", msg);
                for (uint32_t h = 0; h < g; h++)
                        if (q->group_cols[h] == (uint32_t)c)
                                return errorf(pl->err, ge->pos, "'%s' appears twice in GROUP BY", ge->name);
                q->group_cols[g] = (uint32_t)c;
                q->group_types[g] = gt;
        }
        q->ngroup = sel->ngroup;
        char werr[256];
        if ((rc = sl_window_init(&q->win, &sel->window, werr, sizeof werr)) != 0)
                return errorf(pl->err, sel->window.pos, "%s", werr);
        q->emit = sel->emit == SL_EMIT_NONE ? SL_EMIT_CHANGES : sel->emit;
        if (q->emit == SL_EMIT_FINAL && q->win.kind == SL_WIN_NONE)
                return errorf(pl->err, sel->emit_pos,
                              "EMIT FINAL needs a WINDOW clause (an unwindowed table never closes)");
        if (q->win.kind == SL_WIN_SESSION && q->emit == SL_EMIT_CHANGES &&
            q->format == SL_FMT_FLATBUFFERS)
                return errorf(pl->err, sel->window.pos,
                              "a SESSION window with EMIT CHANGES retracts merged sessions with "
                              "tombstones, which VALUE_FORMAT='FLATBUFFERS' rows cannot carry in a "
                              "file: use EMIT FINAL or JSON");

        struct out_scope os = {.pl = pl, .q = q, .src = src, .cs = &cs, .used = used};
        for (uint32_t i = 0; i < sel->nitems; i++) {
                struct sl_prog *prog;
                if ((rc = compile_into(pl, &prog, sel->items[i].expr, resolve_output, &os, &os.rc)) != 0 ||
                    (rc = add_output(pl, q, &sel->items[i], i, prog)) != 0)
                        return rc;
        }
        if (sel->having) {
                if ((rc = compile_into(pl, &q->having, sel->having, resolve_output, &os, &os.rc)) != 0)
                        return rc;
                if (!(q->having_text = expr_text(sel->having)))
                        return -ENOMEM;
                if (sl_prog_type(q->having) != SL_T_BOOL && sl_prog_type(q->having) != SL_T_NULL)
                        return errorf(pl->err, sel->having->pos,
                                      "HAVING needs a BOOLEAN condition, found %s",
                                      sl_type_name(sl_prog_type(q->having)));
        }
        for (uint32_t i = 0; i < q->nout; i++)
                if (format == SL_FMT_FLATBUFFERS && sl_prog_type(q->out[i].prog) == SL_T_ARRAY)
                        return errorf(pl->err, sel->items[i].pos,
                                      "'%s' is an ARRAY, which VALUE_FORMAT='FLATBUFFERS' rows cannot hold yet "
                                      "(use VALUE_FORMAT='JSON')", q->out[i].name);
        /* aggop.c's slot: a pane's header is 16 bytes, a session's 24. */
        bool session = q->win.kind == SL_WIN_SESSION;
        uint32_t slot_bytes = (session ? 24 : 16) + q->acc_bytes;
        uint64_t key_bytes = (uint64_t)q->win.max_panes * slot_bytes;
        if (key_bytes > SL_MAX_KEY_STATE)
                return errorf(pl->err, sel->pos,
                              "the aggregates need %llu bytes of state per key (%u %s of %u bytes), "
                              "more than %u: use fewer or smaller aggregates (COUNT_DISTINCT takes %u bytes a %s)",
                              (unsigned long long)key_bytes, q->win.max_panes,
                              session ? "open sessions" : "live panes", slot_bytes,
                              SL_MAX_KEY_STATE, (uint32_t)sizeof(struct sl_agg_hll),
                              session ? "session" : "pane");
        q->env_size = q->ngroup + 2 + q->nagg;
used_cols:
        for (uint32_t c = 0; c < src->nslots; c++)
                if (used[c])
                        q->used[q->used_cols++] = c;
        if (src->fb) {
                for (uint32_t c = 0; c < src->ncols; c++)
                        if (used[c] || where_used[c])
                                sl_fb_schema_read(p->sources[si].fb, c);
                for (uint32_t g = 0; g < q->ngroup; g++)
                        if (q->group_cols[g] < src->ncols) /* else a joined table's */
                                sl_fb_schema_read(p->sources[si].fb, q->group_cols[g]);
        }
        uint32_t *qs = realloc(p->sources[si].queries,
                               (p->sources[si].nqueries + 1) * sizeof *qs);
        if (!qs)
                return -ENOMEM;
        p->sources[si].queries = qs;
        qs[p->sources[si].nqueries++] = q->index;
        return 0;
}

struct sl_plan *sl_plan_build(const struct sl_script *s, const char *file,
                              struct sl_plan_error *err)
{
        struct sl_plan *p = calloc(1, sizeof *p);
        struct planner pl = {.p = p, .err = err};
        int rc = -ENOMEM;
        err->pos = (struct sl_pos){0, 0};
        err->msg[0] = '\0';
        if (!p || !(p->file = xstrdup(file ? file : "<input>")))
                goto fail;
        for (uint32_t i = 0; i < s->nstmts; i++) {
                const struct sl_stmt *st = &s->stmts[i];
                switch (st->kind) {
                case SL_ST_SET:
                        rc = plan_set(&pl, st);
                        break;
                case SL_ST_CREATE_STREAM:
                case SL_ST_CREATE_TABLE:
                        rc = plan_stream(&pl, st);
                        break;
                case SL_ST_CREATE_STREAM_AS:
                case SL_ST_CREATE_TABLE_AS:
                        rc = plan_query(&pl, st);
                        break;
                }
                if (rc)
                        goto fail;
        }
        if (p->nqueries == 0) {
                rc = errorf(err, (struct sl_pos){0, 0},
                            "no query: add a CREATE TABLE ... AS SELECT or CREATE STREAM ... AS SELECT");
                goto fail;
        }
        return p;
fail:
        if (rc == -ENOMEM)
                snprintf(err->msg, sizeof err->msg, "out of memory");
        sl_plan_free(p);
        return NULL;
}

void sl_plan_free(struct sl_plan *p)
{
        if (!p)
                return;
        for (uint32_t i = 0; i < p->nsettings; i++) {
                free(p->settings[i].key);
                free(p->settings[i].value);
        }
        free(p->settings);
        for (uint32_t i = 0; i < p->nsources; i++) {
                struct sl_source *s = &p->sources[i];
                for (uint32_t c = 0; c < s->ncols; c++)
                        free(s->cols[c].name);
                free(s->cols);
                free(s->name);
                free(s->topic);
                free(s->queries);
                free(s->joins);
                sl_json_schema_free(s->js);
                sl_fb_schema_free(s->fb);
        }
        free(p->sources);
        for (uint32_t i = 0; i < p->nqueries; i++) {
                struct sl_query *q = &p->queries[i];
                free(q->name);
                free(q->topic);
                sl_prog_free(q->where);
                sl_prog_free(q->having);
                free(q->where_text);
                free(q->having_text);
                for (uint32_t o = 0; o < q->nout; o++) {
                        free(q->out[o].name);
                        free(q->out[o].text);
                        free(q->out[o].json_key);
                        sl_prog_free(q->out[o].prog);
                }
                free(q->out);
                for (uint32_t a = 0; a < q->nagg; a++) {
                        sl_prog_free(q->aggs[a].arg);
                        free(q->aggs[a].text);
                }
                free(q->aggs);
        }
        free(p->queries);
        free(p->file);
        free(p);
}

struct sl_plan *sl_plan_load_string(const char *src, size_t len,
                                    const char *name, char *errbuf,
                                    size_t errlen)
{
        struct sl_sql_error se;
        struct sl_script *s = sl_sql_parse(src, len, &se);
        if (!s) {
                snprintf(errbuf, errlen, "%s:%u:%u: %s", name, se.pos.line, se.pos.col, se.msg);
                return NULL;
        }
        struct sl_plan_error pe;
        struct sl_plan *p = sl_plan_build(s, name, &pe);
        sl_script_free(s);
        if (!p) {
                if (pe.pos.line)
                        snprintf(errbuf, errlen, "%s:%u:%u: %s", name, pe.pos.line, pe.pos.col, pe.msg);
                else
                        snprintf(errbuf, errlen, "%s: %s", name, pe.msg);
                return NULL;
        }
        p->hash = XXH3_64bits(src, len);
        return p;
}

struct sl_plan *sl_plan_load_file(const char *path, char *errbuf, size_t errlen)
{
        FILE *f = fopen(path, "rb");
        if (!f) {
                snprintf(errbuf, errlen, "%s: cannot open: %s", path, strerror(errno));
                return NULL;
        }
        struct sl_buf b = {0};
        char chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
                sl_buf_add(&b, chunk, n);
        bool bad = ferror(f);
        fclose(f);
        struct sl_plan *p = NULL;
        if (bad)
                snprintf(errbuf, errlen, "%s: read error", path);
        else if (!sl_buf_ok(&b))
                snprintf(errbuf, errlen, "%s: out of memory", path);
        else
                p = sl_plan_load_string(b.p ? b.p : "", b.len, path, errbuf, errlen);
        sl_buf_free(&b);
        return p;
}

const char *sl_plan_setting(const struct sl_plan *p, const char *key)
{
        for (uint32_t i = 0; i < p->nsettings; i++)
                if (strcmp(p->settings[i].key, key) == 0)
                        return p->settings[i].value;
        return NULL;
}

const struct sl_column *sl_plan_slot_column(const struct sl_plan *p,
                                            const struct sl_source *s,
                                            uint32_t slot)
{
        if (slot < s->ncols)
                return &s->cols[slot];
        for (uint32_t j = 0; j < s->njoins; j++) {
                const struct sl_source *t = &p->sources[s->joins[j].table];
                if (slot >= s->joins[j].base && slot < s->joins[j].base + t->ncols)
                        return &t->cols[slot - s->joins[j].base];
        }
        return NULL;
}

int sl_plan_source_index(const struct sl_plan *p, const char *name)
{
        for (uint32_t i = 0; i < p->nsources; i++)
                if (strcmp(p->sources[i].name, name) == 0)
                        return (int)i;
        return -1;
}

/* ---- explain ------------------------------------------------------ */

static void add_duration(struct sl_buf *b, int64_t ms)
{
        static const struct {
                int64_t ms;
                const char *unit;
        } units[] = {{86400000, "DAYS"}, {3600000, "HOURS"}, {60000, "MINUTES"},
                     {1000, "SECONDS"}, {1, "MILLISECONDS"}};
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
                if (ms % units[i].ms == 0) {
                        sl_buf_addf(b, "%lld %s", (long long)(ms / units[i].ms), units[i].unit);
                        return;
                }
}

void sl_plan_explain(const struct sl_plan *p, struct sl_buf *b)
{
        sl_buf_addf(b, "pipeline %s (hash %016llx)\n", p->file, (unsigned long long)p->hash);
        for (uint32_t i = 0; i < p->nsettings; i++)
                sl_buf_addf(b, "  set %s = '%s'\n", p->settings[i].key, p->settings[i].value);
        for (uint32_t i = 0; i < p->nsources; i++) {
                const struct sl_source *s = &p->sources[i];
                sl_buf_addf(b, "\nsource %s  <- topic '%s', %s\n  columns:", s->name, s->topic,
                            s->format == SL_FMT_FLATBUFFERS ? "FLATBUFFERS" : "JSON");
                for (uint32_t c = 0; c < s->ncols; c++)
                        sl_buf_addf(b, "%s %s %s%s", c ? "," : "", s->cols[c].name,
                             sl_type_name(s->cols[c].type),
                             s->cols[c].key ? (s->table ? " PRIMARY KEY" : " KEY") : "");
                if (s->table) {
                        sl_buf_addf(b, "\n  table: latest row per %s; file mode reads it to its end before the streams\n"
                                       "  joined by:", s->cols[s->pk_col].name);
                        for (uint32_t k = 0; k < p->nqueries; k++) {
                                const struct sl_query *q = &p->queries[k];
                                if (q->join >= 0 && p->sources[q->source].joins[q->join].table == i)
                                        sl_buf_addf(b, " %s", q->name);
                        }
                        sl_buf_addf(b, "%s\n", s->joined ? "" : " no query");
                        continue;
                }
                if (s->ts_col >= 0)
                        sl_buf_addf(b, "\n  event time: column %s (epoch ms)\n", s->cols[s->ts_col].name);
                else
                        sl_buf_addf(b, "\n  event time: message timestamp (Kafka); none in file mode\n");
                sl_buf_addf(b, "  feeds:");
                for (uint32_t k = 0; k < s->nqueries; k++)
                        sl_buf_addf(b, " %s", p->queries[s->queries[k]].name);
                sl_buf_addf(b, "\n");
        }
        for (uint32_t i = 0; i < p->nqueries; i++) {
                const struct sl_query *q = &p->queries[i];
                const struct sl_source *s = &p->sources[q->source];
                sl_buf_addf(b, "\nquery %u: %s %s -> topic '%s'%s\n", i,
                     q->kind == SL_Q_AGGREGATE ? "TABLE" : "STREAM", q->name, q->topic,
                     q->format == SL_FMT_FLATBUFFERS ? ", FLATBUFFERS" : "");
                if (s->fb)
                        sl_buf_addf(b, "  1. scan %s: verify and decode FlatBuffers (the %u of %u fields its queries read)\n",
                                    s->name, sl_fb_schema_nread(s->fb), s->ncols);
                else
                        sl_buf_addf(b, "  1. scan %s: decode JSON (%u columns)\n", s->name, s->ncols);
                int step = 2;
                if (q->join >= 0) {
                        const struct sl_join *j = &s->joins[q->join];
                        const struct sl_source *t = &p->sources[j->table];
                        sl_buf_addf(b, "  %d. join: %s %s ON %s = %s.%s (%s)\n", step++,
                                    q->join_left ? "LEFT JOIN" : "JOIN", t->name,
                                    s->cols[j->key_slot].name, t->name, t->cols[t->pk_col].name,
                                    q->join_left ? "no row: its columns are NULL" : "no row: the record is dropped");
                }
                if (q->where)
                        sl_buf_addf(b, "  %d. filter: WHERE %s\n", step++, q->where_text);
                if (q->kind == SL_Q_PROJECT) {
                        sl_buf_addf(b, "  %d. project:", step++);
                        for (uint32_t o = 0; o < q->nout; o++)
                                sl_buf_addf(b, "%s %s := %s", o ? "," : "", q->out[o].name, q->out[o].text);
                        sl_buf_addf(b, "\n  %d. emit: one row per input record\n", step);
                        continue;
                }
                sl_buf_addf(b, "  %d. key: hash(", step++);
                for (uint32_t g = 0; g < q->ngroup; g++)
                        sl_buf_addf(b, "%s%s %s", g ? ", " : "",
                                    sl_plan_slot_column(p, s, q->group_cols[g])->name,
                                    sl_type_name(q->group_types[g]));
                sl_buf_addf(b, ") -> worker; drop rows whose key is null\n");
                sl_buf_addf(b, "  %d. window: ", step++);
                if (q->win.kind == SL_WIN_NONE) {
                        sl_buf_addf(b, "none (one accumulator per key, never closes)\n");
                } else if (q->win.kind == SL_WIN_SESSION) {
                        sl_buf_addf(b, "SESSION (");
                        add_duration(b, q->win.size);
                        sl_buf_addf(b, ", GRACE PERIOD ");
                        add_duration(b, q->win.grace);
                        sl_buf_addf(b, ")\n     per key a sorted list of at most %u open sessions, merged on overlap\n",
                                    q->win.max_panes);
                } else {
                        sl_buf_addf(b, "%s SIZE ", q->win.kind == SL_WIN_TUMBLING ? "TUMBLING" : "HOPPING");
                        add_duration(b, q->win.size);
                        if (q->win.kind == SL_WIN_HOPPING) {
                                sl_buf_addf(b, ", ADVANCE BY ");
                                add_duration(b, q->win.advance);
                        }
                        sl_buf_addf(b, ", GRACE PERIOD ");
                        add_duration(b, q->win.grace);
                        sl_buf_addf(b, "\n     panes of %lld ms, %u per window, at most %u live per key\n",
                             (long long)q->win.pane, q->win.pane_per_window, q->win.max_panes);
                }
                sl_buf_addf(b, "  %d. aggregate:", step++);
                for (uint32_t a = 0; a < q->nagg; a++)
                        sl_buf_addf(b, "%s %s -> %s", a ? "," : "", q->aggs[a].text,
                             sl_type_name(q->aggs[a].type));
                sl_buf_addf(b, "\n");
                if (q->having)
                        sl_buf_addf(b, "  %d. having: HAVING %s\n", step++, q->having_text);
                sl_buf_addf(b, "  %d. emit %s:", step,
                     q->emit == SL_EMIT_FINAL ? "FINAL (one row per key and window, at close)"
                                              : "CHANGES (one row per update)");
                for (uint32_t o = 0; o < q->nout; o++)
                        sl_buf_addf(b, "%s %s := %s", o ? "," : "", q->out[o].name, q->out[o].text);
                sl_buf_addf(b, "\n");
        }
}
