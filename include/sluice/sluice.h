/*
 * sluice.h - the public API of the sluice engine.
 *
 * A pipeline is loaded from a script (a ksqlDB-style SQL file), then run
 * over files.  The library never prints and never exits: errors come back
 * as negative errno values with a message in the caller's buffer, and a
 * finished run hands back a report.
 */
#ifndef SLUICE_H
#define SLUICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SLUICE_API __attribute__((visibility("default")))
#else
#define SLUICE_API
#endif

struct sluice_pipeline;
struct sluice_report;

/*
 * Parses and plans the script at path.  Returns the pipeline (owned by the
 * caller; release with sluice_pipeline_free) or NULL with a one-line
 * message "FILE:LINE:COL: what" in err.
 */
SLUICE_API struct sluice_pipeline *sluice_pipeline_load(const char *path,
                                                        char *err, size_t errlen);
/* Same, from a string; name is used in messages. */
SLUICE_API struct sluice_pipeline *sluice_pipeline_parse(const char *src, size_t len,
                                                         const char *name,
                                                         char *err, size_t errlen);
SLUICE_API void sluice_pipeline_free(struct sluice_pipeline *p);

/* The readable plan; a NUL-terminated string the caller frees with free(). */
SLUICE_API char *sluice_pipeline_explain(const struct sluice_pipeline *p);

/*
 * The FlatBuffers schema (.fbs text for flatc) of the pipeline's
 * VALUE_FORMAT='FLATBUFFERS' streams and queries; with name non-NULL, of
 * that stream or query alone, with its root_type.  A NUL-terminated string
 * the caller frees with free(), or NULL with a message in err (no such
 * name, nothing in FLATBUFFERS, out of memory).
 */
SLUICE_API char *sluice_pipeline_schema(const struct sluice_pipeline *p, const char *name,
                                        char *err, size_t errlen);

struct sluice_input {
        const char *stream; /* CREATE STREAM name; NULL: the only stream */
        const char *path;   /* NDJSON file, or "-" for standard input */
};

struct sluice_file_opts {
        const struct sluice_input *inputs;
        unsigned ninputs;
        const char *output;   /* a file, a directory (one file per sink topic), or "-" */
        unsigned workers;     /* 0: one per online CPU */
        size_t max_record;    /* bytes; 0: 16 MiB.  Longer records are dropped and counted */
        bool no_pin;          /* do not pin workers to CPUs */
};

/*
 * Runs the pipeline over the inputs until they end.  Returns 0 and a report
 * (caller frees with sluice_report_free), -EINVAL for a configuration
 * error (nothing was run; message in err), or another negative errno for a
 * failure while running (message in err; *report may still be set).
 */
SLUICE_API int sluice_run_files(const struct sluice_pipeline *p,
                                const struct sluice_file_opts *opts,
                                struct sluice_report **report,
                                char *err, size_t errlen);

struct sluice_kafka_opts {
        const char *bootstrap;        /* NULL: SET 'bootstrap.servers' */
        const char *group;            /* NULL: SET 'application.id', else the file name */
        const char *const *settings;  /* "name=value": librdkafka or sluice properties */
        unsigned nsettings;
        unsigned workers;             /* 0: one per online CPU, at most the partitions */
        bool no_pin;
        bool mock;                    /* start librdkafka's mock cluster in process */
        unsigned mock_brokers;        /* 0: 3 */
        unsigned mock_partitions;     /* per topic; 0: 4 */
        bool bounded;                 /* stop at the end of the input and close every
                                       * window, as file mode does */
        bool status;                  /* a live status line on standard error */
        bool quiet;                   /* no assignment and warning lines */
        uint64_t max_records;         /* stop after this many input records (0: no limit) */
        const char *checkpoint_dir;   /* NULL: SET 'state.dir', else no checkpoints */
        bool reset_state;             /* discard state of another pipeline in the directory */
        volatile int *stop;           /* set non-zero (e.g. by a signal handler) to stop:
                                       * the run commits what it processed and returns 0 */
        /* Called once the brokers are known (the mock's address with mock). */
        void (*started)(void *arg, const char *bootstrap, const char *group);
        void *arg;
};

/*
 * Runs the pipeline against Kafka until *opts->stop is set (or, bounded,
 * the input ends).  Exactly-once by default.  Returns as sluice_run_files;
 * -ENOTRECOVERABLE when Kafka reports a fatal error (a fenced producer).
 */
SLUICE_API int sluice_run_kafka(const struct sluice_pipeline *p,
                                const struct sluice_kafka_opts *opts,
                                struct sluice_report **report,
                                char *err, size_t errlen);

struct sluice_totals {
        uint64_t records;  /* input records read (blank lines excluded) */
        uint64_t dropped;  /* bad input, all reasons */
        uint64_t late;
        uint64_t filtered; /* WHERE not true (per query, summed) */
        uint64_t rows;     /* output rows written */
        uint64_t bytes;    /* input bytes */
        uint64_t peak_rss; /* bytes */
        unsigned workers;
        double seconds;
};

SLUICE_API void sluice_report_totals(const struct sluice_report *r,
                                     struct sluice_totals *t);
/* The multi-line summary; valid until sluice_report_free. */
SLUICE_API const char *sluice_report_text(const struct sluice_report *r);
SLUICE_API void sluice_report_free(struct sluice_report *r);

/*
 * Lists every snapshot under a checkpoint directory (partition, offset,
 * stream time, keys, size) and checks each one.  *text: a NUL-terminated
 * string the caller frees.  Returns the number of invalid snapshots, or a
 * negative errno.
 */
SLUICE_API int sluice_state_list(const char *dir, char **text);

SLUICE_API const char *sluice_version(void);

#ifdef __cplusplus
}
#endif

#endif
