/*
 * sluice.c - the command line: run, check, explain.
 *
 *   sluice run PIPELINE.sql --input FILE|STREAM=FILE ... --output FILE|DIR|-
 *              [--workers N] [--max-record BYTES] [--no-pin] [--quiet]
 *   sluice check PIPELINE.sql      parse and plan; errors as FILE:LINE:COL: message
 *   sluice explain PIPELINE.sql    the plan, readable
 *
 * Exit codes: 0 done, 2 usage or SQL error (nothing was run), 1 a failure
 * while running.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "include/sluice/sluice.h"

#define EXIT_USAGE 2

static void usage(FILE *f)
{
        fputs("usage: sluice run PIPELINE.sql --input [STREAM=]FILE ... [--output FILE|DIR|-]\n"
              "                  [--workers N] [--max-record BYTES] [--no-pin] [--quiet]\n"
              "       sluice check PIPELINE.sql\n"
              "       sluice explain PIPELINE.sql\n"
              "       sluice version\n"
              "\n"
              "run      runs the pipeline over NDJSON files (one JSON object per line);\n"
              "         --output - (the default) writes rows to standard output; a directory\n"
              "         gets one <topic>.ndjson per sink; a summary goes to standard error.\n"
              "check    parses and plans the pipeline, reporting errors as FILE:LINE:COL.\n"
              "explain  prints the plan.\n",
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
                {NULL, 0, NULL, 0},
        };
        struct sluice_input inputs[64];
        struct sluice_file_opts o = {.inputs = inputs, .output = "-"};
        bool quiet = false;
        unsigned long long v;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "i:o:w:m:qh", longopts, NULL)) != -1) {
                switch (c) {
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
                        break;
                case 'w':
                        if (parse_uint("--workers", optarg, 256, &v) || v == 0) {
                                if (v == 0)
                                        fprintf(stderr, "sluice: --workers must be at least 1\n");
                                return EXIT_USAGE;
                        }
                        o.workers = (unsigned)v;
                        break;
                case 'm':
                        if (parse_uint("--max-record", optarg, 1ull << 30, &v) || v == 0)
                                return EXIT_USAGE;
                        o.max_record = (size_t)v;
                        break;
                case 'P':
                        o.no_pin = true;
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
        if (o.ninputs == 0) {
                fprintf(stderr, "sluice run: no --input given (file mode needs NDJSON input)\n");
                return EXIT_USAGE;
        }
        struct sluice_pipeline *p = load(argv[optind]);
        if (!p)
                return EXIT_USAGE;
        char err[1024];
        struct sluice_report *rep = NULL;
        int rc = sluice_run_files(p, &o, &rep, err, sizeof err);
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
                return 1;
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
        if (strcmp(cmd, "check") == 0)
                return cmd_check(argc - 1, argv + 1);
        if (strcmp(cmd, "explain") == 0)
                return cmd_explain(argc - 1, argv + 1);
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
