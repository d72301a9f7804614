/*
 * sluice.c - the command line: run, check, explain.
 *
 *   sluice run PIPELINE.sql --input FILE|STREAM=FILE ... --output FILE|DIR|-
 *              [--workers N] [--max-record BYTES] [--no-pin] [--quiet]
 *   sluice check PIPELINE.sql      parse and plan; errors as FILE:LINE:COL: message
 *   sluice explain PIPELINE.sql    the plan, readable
 *   sluice schema PIPELINE.sql [NAME]   the FlatBuffers schema (.fbs)
 *
 * Exit codes: 0 done, 2 usage or SQL error (nothing was run), 1 a failure
 * while running.
 */
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "include/sluice/sluice.h"
#include "tools/demo.h"

#define EXIT_USAGE 2
#define EXIT_FATAL_KAFKA 3
#define EXIT_STATE_FULL 4 /* state.max.bytes reached and held */

static volatile int stop_flag;

static void on_signal(int sig)
{
        (void)sig;
        stop_flag = 1;
}

static void catch_signals(void)
{
        struct sigaction sa = {.sa_handler = on_signal};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
}

static void print_started(void *arg, const char *bootstrap, const char *group)
{
        (void)arg;
        fprintf(stderr, "sluice: brokers %s, group %s\n", bootstrap, group);
}

static void usage(FILE *f)
{
        fputs("usage: sluice run PIPELINE.sql --input [STREAM=]FILE ... [--output FILE|DIR|-]\n"
              "                  [--workers N] [--max-record BYTES] [--no-pin] [--quiet]\n"
              "       sluice run PIPELINE.sql [--bootstrap HOST:PORT | --mock] [--group ID]\n"
              "                  [--set NAME=VALUE]... [--workers N] [--bounded] [--no-pin]\n"
              "                  [--partitions N] [--max-records N] [--status | --no-status]\n"
              "                  [--checkpoint-dir DIR [--reset-state]]\n"
              "                  [--quiet]\n"
              "       sluice demo [--seconds S] [--rate EVENTS_PER_S] [--workers N]\n"
              "       sluice state DIR\n"
              "       sluice check PIPELINE.sql\n"
              "       sluice explain PIPELINE.sql\n"
              "       sluice schema PIPELINE.sql [STREAM|QUERY]\n"
              "       sluice version\n"
              "\n"
              "run      with --input: runs the pipeline over NDJSON files (one JSON object per\n"
              "         line; VALUE_FORMAT='FLATBUFFERS' streams: size-prefixed buffers); --output -\n"
              "         (the default) writes rows to standard output; a directory gets one\n"
              "         <topic>.ndjson (or <topic>.fb) per sink.\n"
              "         without --input: runs against Kafka (brokers from --bootstrap or SET\n"
              "         'bootstrap.servers'; --mock starts librdkafka's mock cluster in process),\n"
              "         exactly-once by default, until SIGINT/SIGTERM (or, with --bounded, the\n"
              "         end of the input, closing every window as file mode does).  --set passes\n"
              "         any librdkafka property, or a sluice one (processing.guarantee,\n"
              "         commit.interval.ms, state.recovery).  A summary goes to standard error.\n"
              "demo     the mock cluster, generated transactions and the moving-average and\n"
              "         high-activity pipelines, live.\n"
              "state    lists the snapshots in a checkpoint directory and checks each one.\n"
              "check    parses and plans the pipeline, reporting errors as FILE:LINE:COL.\n"
              "explain  prints the plan.\n"
              "schema   prints the FlatBuffers schema (.fbs, for flatc) of the streams and\n"
              "         queries with VALUE_FORMAT='FLATBUFFERS', or of the one named, with\n"
              "         its root_type.\n"
              "\n"
              "exit codes: 0 done, 2 usage or pipeline error (nothing ran), 1 failure while\n"
              "running, 3 Kafka reported a fatal error (a fenced producer), 4 state.max.bytes\n"
              "reached and held (docs/kafka.md, Limits)\n",
              f);
}

static int parse_uint(const char *opt, const char *s, unsigned long long max,
                      unsigned long long *out)
{
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s || *end || s[0] == '-' || v > max) {
                fprintf(stderr, "sluice: %s '%s': expected a whole number up to %llu\n",
                        opt, s, max);
                return -1;
        }
        *out = v;
        return 0;
}

static struct sluice_pipeline *load(const char *path)
{
        char err[1024];
        struct sluice_pipeline *p = sluice_pipeline_load(path, err, sizeof err);
        if (!p)
                fprintf(stderr, "%s\n", err);
        return p;
}

static int cmd_check(int argc, char **argv)
{
        if (argc != 2) {
                fprintf(stderr, "sluice check: expected one pipeline file\n");
                return EXIT_USAGE;
        }
        struct sluice_pipeline *p = load(argv[1]);
        if (!p)
                return EXIT_USAGE;
        fprintf(stderr, "%s: ok\n", argv[1]);
        sluice_pipeline_free(p);
        return 0;
}

static int cmd_state(int argc, char **argv)
{
        if (argc != 2) {
                fprintf(stderr, "sluice state: expected one checkpoint directory\n");
                return EXIT_USAGE;
        }
        char *text = NULL;
        int bad = sluice_state_list(argv[1], &text);
        if (bad < 0) {
                fprintf(stderr, "sluice state: %s: %s\n", argv[1], strerror(-bad));
                return 1;
        }
        fputs(text, stdout);
        free(text);
        return bad ? 1 : 0;
}

static int cmd_explain(int argc, char **argv)
{
        if (argc != 2) {
                fprintf(stderr, "sluice explain: expected one pipeline file\n");
                return EXIT_USAGE;
        }
        struct sluice_pipeline *p = load(argv[1]);
        if (!p)
                return EXIT_USAGE;
        char *text = sluice_pipeline_explain(p);
        int rc = 0;
        if (!text) {
                fprintf(stderr, "sluice: out of memory\n");
                rc = 1;
        } else {
                fputs(text, stdout);
                free(text);
        }
        sluice_pipeline_free(p);
        return rc;
}

static int cmd_schema(int argc, char **argv)
{
        if (argc != 2 && argc != 3) {
                fprintf(stderr, "sluice schema: expected a pipeline file and, optionally, a stream or query name\n");
                return EXIT_USAGE;
        }
        struct sluice_pipeline *p = load(argv[1]);
        if (!p)
                return EXIT_USAGE;
        char err[1024];
        char *text = sluice_pipeline_schema(p, argc == 3 ? argv[2] : NULL, err, sizeof err);
        int rc = 0;
        if (!text) {
                fprintf(stderr, "sluice schema: %s\n", err);
                rc = EXIT_USAGE;
        } else {
                fputs(text, stdout);
                free(text);
        }
        sluice_pipeline_free(p);
        return rc;
}

static int cmd_run(int argc, char **argv)
{
        static const struct option longopts[] = {
                {"input", required_argument, NULL, 'i'},
                {"output", required_argument, NULL, 'o'},
                {"workers", required_argument, NULL, 'w'},
                {"max-record", required_argument, NULL, 'm'},
                {"no-pin", no_argument, NULL, 'P'},
                {"quiet", no_argument, NULL, 'q'},
                {"help", no_argument, NULL, 'h'},
                {"bootstrap", required_argument, NULL, 'b'},
                {"group", required_argument, NULL, 'g'},
                {"set", required_argument, NULL, 's'},
                {"mock", no_argument, NULL, 'M'},
                {"partitions", required_argument, NULL, 'p'},
                {"bounded", no_argument, NULL, 'B'},
                {"status", no_argument, NULL, 'S'},
                {"no-status", no_argument, NULL, 'N'},
                {"max-records", required_argument, NULL, 'R'},
                {"checkpoint-dir", required_argument, NULL, 'C'},
                {"reset-state", no_argument, NULL, 'Z'},
                {NULL, 0, NULL, 0},
        };
        struct sluice_input inputs[64];
        struct sluice_file_opts o = {.inputs = inputs, .output = "-"};
        static const char *sets[256];
        struct sluice_kafka_opts k = {.settings = sets, .stop = &stop_flag,
                                      .started = print_started, .status = isatty(2)};
        bool quiet = false, kafka_flag = false, output_given = false;
        unsigned long long v;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "i:o:w:m:qhb:g:s:", longopts, NULL)) != -1) {
                switch (c) {
                case 'b':
                        k.bootstrap = optarg;
                        kafka_flag = true;
                        break;
                case 'g':
                        k.group = optarg;
                        kafka_flag = true;
                        break;
                case 's':
                        if (k.nsettings == 256 || !strchr(optarg, '=') || optarg[0] == '=') {
                                fprintf(stderr, "sluice run: --set '%s': expected NAME=VALUE (at most 256)\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        sets[k.nsettings++] = optarg;
                        kafka_flag = true;
                        break;
                case 'M':
                        k.mock = true;
                        kafka_flag = true;
                        break;
                case 'p':
                        if (parse_uint("--partitions", optarg, 1024, &v) || v == 0)
                                return EXIT_USAGE;
                        k.mock_partitions = (unsigned)v;
                        kafka_flag = true;
                        break;
                case 'B':
                        k.bounded = true;
                        kafka_flag = true;
                        break;
                case 'S':
                        k.status = true;
                        break;
                case 'C':
                        k.checkpoint_dir = optarg;
                        kafka_flag = true;
                        break;
                case 'Z':
                        k.reset_state = true;
                        kafka_flag = true;
                        break;
                case 'R':
                        if (parse_uint("--max-records", optarg, UINT64_MAX, &v) || v == 0)
                                return EXIT_USAGE;
                        k.max_records = v;
                        kafka_flag = true;
                        break;
                case 'N':
                        k.status = false;
                        break;
                case 'i': {
                        if (o.ninputs == 64) {
                                fprintf(stderr, "sluice run: too many --input (at most 64)\n");
                                return EXIT_USAGE;
                        }
                        char *eq = strchr(optarg, '=');
                        inputs[o.ninputs].stream = NULL;
                        inputs[o.ninputs].path = optarg;
                        if (eq) {
                                *eq = '\0';
                                inputs[o.ninputs].stream = optarg;
                                inputs[o.ninputs].path = eq + 1;
                        }
                        if (!inputs[o.ninputs].path[0]) {
                                fprintf(stderr, "sluice run: --input needs a file name\n");
                                return EXIT_USAGE;
                        }
                        o.ninputs++;
                        break;
                }
                case 'o':
                        o.output = optarg;
                        output_given = true;
                        break;
                case 'w':
                        if (parse_uint("--workers", optarg, 256, &v))
                                return EXIT_USAGE;
                        if (v == 0) {
                                fprintf(stderr, "sluice: --workers must be at least 1\n");
                                return EXIT_USAGE;
                        }
                        o.workers = (unsigned)v;
                        k.workers = (unsigned)v;
                        break;
                case 'm':
                        if (parse_uint("--max-record", optarg, 1ull << 30, &v) || v == 0)
                                return EXIT_USAGE;
                        o.max_record = (size_t)v;
                        break;
                case 'P':
                        o.no_pin = true;
                        k.no_pin = true;
                        break;
                case 'q':
                        quiet = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        fprintf(stderr, "sluice run: see 'sluice run --help'\n");
                        return EXIT_USAGE;
                }
        }
        if (optind != argc - 1) {
                fprintf(stderr, optind >= argc ? "sluice run: expected a pipeline file\n"
                                               : "sluice run: unexpected argument '%s'\n",
                        argv[optind + 1 < argc ? optind + 1 : optind]);
                return EXIT_USAGE;
        }
        if (o.ninputs && kafka_flag) {
                fprintf(stderr, "sluice run: --input runs over files; Kafka flags (--bootstrap, "
                                "--group, --set, --mock, --partitions, --bounded) do not apply\n");
                return EXIT_USAGE;
        }
        if (!o.ninputs && output_given) {
                fprintf(stderr, "sluice run: --output is for file mode (with --input); in Kafka "
                                "mode rows go to each query's KAFKA_TOPIC\n");
                return EXIT_USAGE;
        }
        if (k.mock && k.bootstrap) {
                fprintf(stderr, "sluice run: --mock and --bootstrap exclude each other\n");
                return EXIT_USAGE;
        }
        struct sluice_pipeline *p = load(argv[optind]);
        if (!p)
                return EXIT_USAGE;
        char err[1024];
        struct sluice_report *rep = NULL;
        int rc;
        if (o.ninputs) {
                rc = sluice_run_files(p, &o, &rep, err, sizeof err);
        } else {
                if (quiet) {
                        k.started = NULL;
                        k.quiet = true;
                }
                catch_signals();
                rc = sluice_run_kafka(p, &k, &rep, err, sizeof err);
        }
        if (rep && !quiet)
                fputs(sluice_report_text(rep), stderr);
        sluice_report_free(rep);
        sluice_pipeline_free(p);
        if (rc == -EINVAL) {
                fprintf(stderr, "sluice: %s\n", err);
                return EXIT_USAGE;
        }
        if (rc) {
                fprintf(stderr, "sluice: %s\n", err);
                return rc == -ENOTRECOVERABLE ? EXIT_FATAL_KAFKA
                       : rc == -ENOSPC       ? EXIT_STATE_FULL
                                             : 1;
        }
        return 0;
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                usage(stderr);
                return EXIT_USAGE;
        }
        const char *cmd = argv[1];
        if (strcmp(cmd, "run") == 0)
                return cmd_run(argc - 1, argv + 1);
        if (strcmp(cmd, "demo") == 0) {
                catch_signals();
                return sluice_demo(argc - 1, argv + 1, &stop_flag);
        }
        if (strcmp(cmd, "state") == 0)
                return cmd_state(argc - 1, argv + 1);
        if (strcmp(cmd, "check") == 0)
                return cmd_check(argc - 1, argv + 1);
        if (strcmp(cmd, "explain") == 0)
                return cmd_explain(argc - 1, argv + 1);
        if (strcmp(cmd, "schema") == 0)
                return cmd_schema(argc - 1, argv + 1);
        if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
                printf("sluice %s\n", sluice_version());
                return 0;
        }
        if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
                usage(stdout);
                return 0;
        }
        fprintf(stderr, "sluice: unknown command '%s'\n", cmd);
        usage(stderr);
        return EXIT_USAGE;
}
