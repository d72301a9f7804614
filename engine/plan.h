/*
 * plan.h - the executable form of a pipeline script.
 *
 * The planner resolves every name, type and window in the script once:
 * sources (CREATE STREAM with columns), queries (CREATE STREAM/TABLE AS
 * SELECT) with their compiled programs and accumulator layout, and sinks
 * (one per query: its KAFKA_TOPIC, or its name).  Everything the runtime
 * needs per event is an index or a compiled program; the AST is not
 * needed after planning.
 *
 * A plan is immutable once built and shared read-only by all threads.
 */
#ifndef SL_PLAN_H
#define SL_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/agg.h"
#include "engine/expr.h"
#include "engine/flatbuf.h"
#include "engine/json_decode.h"
#include "engine/sql/ast.h"
#include "engine/window.h"

#define SL_MAX_COLS 256
#define SL_MAX_GROUP 16
#define SL_MAX_AGGS 64
#define SL_MAX_KEY_STATE (16u << 20) /* bytes of panes per key */

struct sl_setting {
        char *key;
        char *value;
};

/* VALUE_FORMAT of a stream (its records) or a query (its rows). */
enum sl_format {
        SL_FMT_JSON = 0,        /* rows: a line of JSON text ending in '\n' */
        SL_FMT_FLATBUFFERS = 1, /* rows: a frame, see sl_fb_row (engine/flatbuf.h) */
};

struct sl_column {
        char *name;
        enum sl_type type;
        bool key;
};

struct sl_source {
        char *name;
        char *topic;
        uint32_t ncols;
        struct sl_column *cols;
        int ts_col; /* -1: no TIMESTAMP column */
        struct sl_json_schema *js;
        enum sl_format format;
        struct sl_fb_schema *fb; /* FLATBUFFERS: layout and columns read */
        uint32_t nqueries;
        uint32_t *queries; /* indices of the queries reading this source */

        /*
         * CREATE TABLE t (...) WITH (...): a table source, the latest row
         * per PRIMARY KEY value, read only through joins.  Its JSON schema
         * has one more field after the columns, SL_TABLE_DELETED (a
         * BOOLEAN), which marks a delete in a file.
         */
        bool table;
        bool joined;  /* table: some query joins it */
        int pk_col;   /* table: the PRIMARY KEY column */
        /*
         * A stream's value slots: [0, ncols) its columns, then the columns
         * of each table joined to it, from joins[j].base.  Records of the
         * stream carry nslots values.
         */
        uint32_t nslots;
        uint32_t njoins;
        struct sl_join *joins;
};

/* The field of a table's JSON record that marks a delete ({"id": "c1",
 * "__deleted": true}); see docs/sql.md. */
#define SL_TABLE_DELETED "__deleted"

/* One stream-table join, shared by the queries of a stream that join the
 * same table on the same stream column. */
struct sl_join {
        uint32_t table;    /* source index of the table */
        uint32_t key_slot; /* the stream column matched with the PRIMARY KEY */
        uint32_t base;     /* slot of the table's column 0 */
};

enum sl_query_kind {
        SL_Q_PROJECT,   /* CREATE STREAM AS SELECT: stateless */
        SL_Q_AGGREGATE, /* CREATE TABLE AS SELECT ... GROUP BY */
};

struct sl_agg {
        struct sl_agg_desc desc;
        struct sl_prog *arg; /* NULL for COUNT(*) */
        int arg_slot;        /* arg is a plain column: its slot, else -1 */
        enum sl_type type;   /* result type */
        char *text;          /* as written, for explain */
};

struct sl_output_col {
        char *name;
        char *text;     /* the expression as written, for explain */
        char *json_key; /* "name": pre-escaped */
        uint32_t json_key_len;
        struct sl_prog *prog;
};

struct sl_query {
        uint32_t index;
        char *name;
        enum sl_query_kind kind;
        uint32_t source;
        int join;       /* index in its source's joins[], -1: no JOIN */
        bool join_left; /* LEFT JOIN: a record without a table row gets NULLs;
                         * else (INNER) it is dropped */
        char *topic; /* sink topic */
        enum sl_format format; /* of the rows */
        struct sl_prog *where; /* NULL: every record */
        char *where_text;      /* for explain */
        char *having_text;
        uint32_t nout;
        struct sl_output_col *out;

        /* SL_Q_AGGREGATE only */
        uint32_t ngroup;
        uint32_t group_cols[SL_MAX_GROUP]; /* source value slots */
        enum sl_type group_types[SL_MAX_GROUP];
        uint32_t nagg;
        struct sl_agg *aggs;
        uint32_t acc_bytes; /* a pane's accumulator block: aggs[i].desc.off */
        struct sl_window win;
        enum sl_emit emit;
        struct sl_prog *having; /* NULL: every row */
        /*
         * Output environment: slots [0, ngroup) group values, ngroup
         * WINDOWSTART, ngroup + 1 WINDOWEND, then [ngroup + 2, + nagg)
         * the aggregate results.
         */
        uint32_t env_size;
        uint32_t used_cols; /* number of entries in used[] */
        uint32_t used[SL_MAX_COLS]; /* source columns the worker reads */
};

struct sl_plan {
        char *file;
        uint64_t hash; /* of the normalised script: ties state to pipeline */
        uint32_t nsettings;
        struct sl_setting *settings;
        uint32_t nsources;
        struct sl_source *sources;
        uint32_t nqueries;
        struct sl_query *queries;
};

struct sl_plan_error {
        struct sl_pos pos; /* line 0: no position */
        char msg[320];     /* one line: line breaks in quoted text become spaces */
};

/*
 * Plans a parsed script.  Returns the plan (free with sl_plan_free) or
 * NULL with *err set.  The script may be freed afterwards.
 */
struct sl_plan *sl_plan_build(const struct sl_script *s, const char *file,
                              struct sl_plan_error *err);
void sl_plan_free(struct sl_plan *p);

/* Reads, parses and plans a file; errors come back formatted as
 * "FILE:LINE:COL: message" in errbuf. */
struct sl_plan *sl_plan_load_file(const char *path, char *errbuf,
                                  size_t errlen);
struct sl_plan *sl_plan_load_string(const char *src, size_t len,
                                    const char *name, char *errbuf,
                                    size_t errlen);

const char *sl_plan_setting(const struct sl_plan *p, const char *key);
/* The column behind value slot `slot` of stream s (its own or a joined
 * table's). */
const struct sl_column *sl_plan_slot_column(const struct sl_plan *p,
                                            const struct sl_source *s,
                                            uint32_t slot);
int sl_plan_source_index(const struct sl_plan *p, const char *name);

/* Writes the readable plan (sluice explain) into b. */
struct sl_buf;
void sl_plan_explain(const struct sl_plan *p, struct sl_buf *b);

#endif
