/*
 * sluice_mock.c - a standalone mock Kafka cluster for tests and demos.
 *
 *   sluice-mock [--brokers N] [--partitions P] [--topic NAME[:PARTITIONS]]...
 *               [--port-file FILE] [--seconds S] [--control FILE|-]
 *
 * Runs librdkafka's mock cluster (rdkafka_mock.h) on loopback, creates the
 * listed topics, prints the bootstrap address as the only line on stdout
 * (and to --port-file, written atomically), and serves until SIGINT or
 * SIGTERM, or for S seconds.  The port file is removed again on exit.
 *
 * The mock is in-memory and keeps only about 5 MiB or 100,000 batches per
 * partition, and topics that are not created here are auto-created with 4
 * partitions by the first metadata request that names them.
 *
 * Fault injection: --control FILE creates a FIFO at FILE (before the address
 * is printed; removed on exit) and --control - uses stdin.  Each line is one
 * command, words separated by blanks; empty lines and lines starting with #
 * are ignored:
 *
 *   errors API COUNT ERROR...     the next COUNT requests of API (cluster-wide)
 *                                 fail with these errors in order: COUNT
 *                                 errors, or one error used COUNT times
 *   broker-errors ID API ERROR RTT_MS [ERROR RTT_MS]...
 *                                 the same on broker ID, each answer delayed
 *                                 by RTT_MS (ERROR may be NO_ERROR: delay only)
 *   down ID | up ID               broker ID (or all) refuses / accepts
 *                                 connections (leaders do not move)
 *   rtt ID MS                     broker ID (or all) answers MS ms late
 *   clear API                     drop the pending cluster-wide errors of API
 *   topic NAME PARTITIONS         create a topic
 *   coordinator group|transaction KEY ID
 *                                 broker ID coordinates that group id or
 *                                 transactional id (ID need not exist)
 *
 * API is a name (Produce, Fetch, ...) or a Kafka ApiKey number; ERROR is a
 * librdkafka error name without RD_KAFKA_RESP_ERR_ (NOT_COORDINATOR,
 * _TRANSPORT: the broker drops the connection, ...) or a number.  After
 * _TRANSPORT on Produce, a batch that was in flight on that connection may
 * have been stored and is retried: a non-idempotent producer can write it
 * twice.
 *
 * Every command is in effect before its result, one line on stderr:
 * "sluice-mock: ok: COMMAND" or "sluice-mock: COMMAND: WHAT IS WRONG".  A bad
 * command changes nothing and the mock goes on serving; so does the end of
 * stdin.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_BROKERS 1024
#define MAX_PARTITIONS 100000
#define MAX_INJECTED 100000     /* errors per "errors" command */
#define CONTROL_LINE_MAX 4096   /* bytes per control line, newline excluded */

struct topic_spec {
        const char *name;       /* points into argv */
        size_t name_len;
        int partitions;         /* 0: use --partitions */
};

struct mock_opts {
        int brokers;
        int partitions;
        struct topic_spec *topics;
        int ntopics;
        const char *port_file;
        long seconds;           /* 0: until a signal */
        const char *control;    /* FIFO path, "-" for stdin, NULL: none */
};

static void usage(FILE *f)
{
        fprintf(f,
                "usage: sluice-mock [--brokers N] [--partitions P] [--topic NAME[:PARTITIONS]]...\n"
                "                   [--port-file FILE] [--seconds S] [--control FILE|-]\n"
                "\n"
                "Runs an in-memory mock Kafka cluster (librdkafka's) on loopback and prints\n"
                "its bootstrap address as the only line on stdout.\n"
                "\n"
                "  --brokers N            number of brokers (default 3)\n"
                "  --partitions P         partitions of a --topic given without a count (default 4)\n"
                "  --topic NAME[:PARTS]   create a topic (repeatable); other topics are\n"
                "                         auto-created with 4 partitions when first used\n"
                "  --port-file FILE       also write the address to FILE (via FILE.tmp and\n"
                "                         rename); FILE is removed on exit\n"
                "  --seconds S            exit after S seconds (default 0: until SIGINT/SIGTERM)\n"
                "  --control FILE|-       read fault-injection commands from a FIFO created at\n"
                "                         FILE (removed on exit), or from stdin\n"
                "  --help                 show this text\n"
                "\n"
                "Control commands, one per line (# starts a comment line):\n"
                "  errors API COUNT ERROR...    next COUNT requests of API fail with these\n"
                "                               errors in order (COUNT of them, or one)\n"
                "  broker-errors ID API ERROR RTT_MS [ERROR RTT_MS]...\n"
                "                               the same on broker ID, each answer delayed\n"
                "  down ID | up ID              broker ID (or all) down / up again\n"
                "  rtt ID MS                    broker ID (or all) answers MS ms late\n"
                "  clear API                    drop API's pending errors (not broker-errors)\n"
                "  topic NAME PARTITIONS        create a topic\n"
                "  coordinator group|transaction KEY ID\n"
                "                               make broker ID that key's coordinator\n"
                "API: a name (Produce Fetch ListOffsets Metadata OffsetCommit OffsetFetch\n"
                "FindCoordinator JoinGroup Heartbeat LeaveGroup SyncGroup ApiVersions\n"
                "InitProducerId OffsetForLeaderEpoch AddPartitionsToTxn AddOffsetsToTxn\n"
                "EndTxn TxnOffsetCommit) or its number.  ERROR: a librdkafka error name\n"
                "without RD_KAFKA_RESP_ERR_ (NOT_LEADER_FOR_PARTITION, NOT_COORDINATOR,\n"
                "_TRANSPORT to drop the connection, NO_ERROR, ...) or its number.\n"
                "Each command's result is one line on stderr: \"sluice-mock: ok: COMMAND\"\n"
                "once it is in effect, or \"sluice-mock: COMMAND: REASON\".\n");
}

static int parse_int(const char *opt, const char *s, long min, long max, long *out)
{
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < min || v > max) {
                fprintf(stderr, "sluice-mock: %s '%s': expected a whole number from %ld to %ld\n",
                        opt, s, min, max);
                return -1;
        }
        *out = v;
        return 0;
}

/* Kafka topic names: 1..249 of [a-zA-Z0-9._-]. */
static bool topic_name_ok(const char *s, size_t len)
{
        if (len == 0 || len > 249)
                return false;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
                        return false;
        }
        return true;
}

static int parse_topic(const char *arg, struct topic_spec *t)
{
        const char *colon = strchr(arg, ':');
        t->name = arg;
        t->name_len = colon ? (size_t)(colon - arg) : strlen(arg);
        t->partitions = 0;
        if (!topic_name_ok(arg, t->name_len)) {
                fprintf(stderr, "sluice-mock: --topic '%s': the name must be 1 to 249 of "
                        "a-z A-Z 0-9 . _ -\n", arg);
                return -1;
        }
        if (colon) {
                char *end;
                errno = 0;
                long p = strtol(colon + 1, &end, 10);
                if (errno || end == colon + 1 || *end || p < 1 || p > MAX_PARTITIONS) {
                        fprintf(stderr, "sluice-mock: --topic '%s': expected NAME:PARTITIONS "
                                "with 1 to %d partitions\n", arg, MAX_PARTITIONS);
                        return -1;
                }
                t->partitions = (int)p;
        }
        return 0;
}

static bool topic_listed(const struct mock_opts *o, const struct topic_spec *t)
{
        for (int i = 0; i < o->ntopics; i++)
                if (o->topics[i].name_len == t->name_len &&
                    memcmp(o->topics[i].name, t->name, t->name_len) == 0)
                        return true;
        return false;
}

static int bad_option(char **argv, int c)
{
        const char *arg = argv[optind - 1];
        bool is_long = strncmp(arg, "--", 2) == 0;

        if (c == ':')
                fprintf(stderr, "sluice-mock: %s needs a value\n", arg);
        else if (optopt && is_long)
                fprintf(stderr, "sluice-mock: '%s': that option takes no value\n", arg);
        else if (optopt)
                fprintf(stderr, "sluice-mock: unknown option '-%c'\n", optopt);
        else
                fprintf(stderr, "sluice-mock: unknown option '%s'\n", arg);
        return 2;
}

/* Returns 0 to run, 1 after --help, 2 for a bad flag (already reported). */
static int parse_args(int argc, char **argv, struct mock_opts *o)
{
        static const struct option longopts[] = {
                {"brokers", required_argument, NULL, 'b'},
                {"partitions", required_argument, NULL, 'p'},
                {"topic", required_argument, NULL, 't'},
                {"port-file", required_argument, NULL, 'f'},
                {"seconds", required_argument, NULL, 's'},
                {"control", required_argument, NULL, 'c'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        long v;
        int c;

        *o = (struct mock_opts){ .brokers = 3, .partitions = 4 };
        o->topics = calloc((size_t)argc, sizeof *o->topics);
        if (!o->topics) {
                fprintf(stderr, "sluice-mock: out of memory\n");
                return 2;
        }
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
                switch (c) {
                case 'b':
                        if (parse_int("--brokers", optarg, 1, MAX_BROKERS, &v))
                                return 2;
                        o->brokers = (int)v;
                        break;
                case 'p':
                        if (parse_int("--partitions", optarg, 1, MAX_PARTITIONS, &v))
                                return 2;
                        o->partitions = (int)v;
                        break;
                case 't': {
                        struct topic_spec t;
                        if (parse_topic(optarg, &t))
                                return 2;
                        if (topic_listed(o, &t)) {
                                fprintf(stderr, "sluice-mock: --topic '%.*s' given twice\n",
                                        (int)t.name_len, t.name);
                                return 2;
                        }
                        o->topics[o->ntopics++] = t;
                        break;
                }
                case 'f':
                        if (!*optarg) {
                                fprintf(stderr, "sluice-mock: --port-file: empty file name\n");
                                return 2;
                        }
                        o->port_file = optarg;
                        break;
                case 's':
                        if (parse_int("--seconds", optarg, 0, INT_MAX, &v))
                                return 2;
                        o->seconds = v;
                        break;
                case 'c':
                        if (!*optarg) {
                                fprintf(stderr, "sluice-mock: --control: empty file name\n");
                                return 2;
                        }
                        o->control = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 1;
                default:
                        return bad_option(argv, c);
                }
        }
        if (optind != argc) {
                fprintf(stderr, "sluice-mock: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }
        return 0;
}

static void log_line(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
        (void)rk;
        (void)level;
        fprintf(stderr, "sluice-mock: librdkafka %s: %s\n", fac, buf);
}

/*
 * The client the mock cluster needs for its book-keeping.  It has no
 * bootstrap servers and never connects anywhere; its log shows warnings
 * and errors only, prefixed like ours.
 */
static rd_kafka_t *dummy_client(void)
{
        char errstr[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();

        rd_kafka_conf_set_log_cb(conf, log_line);
        if (rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
                fprintf(stderr, "sluice-mock: client config: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
        if (!rk) {
                fprintf(stderr, "sluice-mock: cannot create the client: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
        }
        return rk;
}

static int create_topics(rd_kafka_mock_cluster_t *mc, const struct mock_opts *o)
{
        int rf = o->brokers < 3 ? o->brokers : 3;

        for (int i = 0; i < o->ntopics; i++) {
                const struct topic_spec *t = &o->topics[i];
                int parts = t->partitions ? t->partitions : o->partitions;
                char name[250];

                snprintf(name, sizeof name, "%.*s", (int)t->name_len, t->name);
                rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, name, parts, rf);
                if (err) {
                        fprintf(stderr, "sluice-mock: cannot create topic %s (%d partitions): %s\n",
                                name, parts, rd_kafka_err2str(err));
                        return -1;
                }
        }
        return 0;
}

static int write_port_file(const char *path, const char *bootstraps)
{
        size_t len = strlen(path) + sizeof ".tmp";
        char *tmp = malloc(len);
        if (!tmp) {
                fprintf(stderr, "sluice-mock: out of memory\n");
                return -1;
        }
        snprintf(tmp, len, "%s.tmp", path);

        FILE *f = fopen(tmp, "w");
        if (!f) {
                fprintf(stderr, "sluice-mock: cannot create %s: %s\n", tmp, strerror(errno));
                free(tmp);
                return -1;
        }
        int rc = fprintf(f, "%s\n", bootstraps) < 0 ? -1 : 0;
        if (fclose(f) != 0)
                rc = -1;
        if (rc) {
                fprintf(stderr, "sluice-mock: write %s: %s\n", tmp, strerror(errno));
        } else if (rename(tmp, path) != 0) {
                fprintf(stderr, "sluice-mock: rename %s to %s: %s\n", tmp, path, strerror(errno));
                rc = -1;
        }
        if (rc)
                unlink(tmp);
        free(tmp);
        return rc;
}

/*
 * Fault injection: commands read from --control, applied to the running
 * cluster from the main thread (the mock API is thread-safe).
 */
struct control {
        int fd;                 /* -1: not reading (none, or stdin ended) */
        bool fifo;              /* fd is our FIFO (else stdin) */
        rd_kafka_mock_cluster_t *mc;
        int brokers;
        size_t len;             /* bytes in buf */
        bool skipping;          /* discarding the rest of a too-long line */
        char buf[CONTROL_LINE_MAX + 1];
        char *words[CONTROL_LINE_MAX / 2 + 1];
};

static const struct api_name {
        const char *name;
        int16_t key;
} api_names[] = {
        {"Produce", 0},         {"Fetch", 1},           {"ListOffsets", 2},
        {"Metadata", 3},        {"OffsetCommit", 8},    {"OffsetFetch", 9},
        {"FindCoordinator", 10}, {"JoinGroup", 11},     {"Heartbeat", 12},
        {"LeaveGroup", 13},     {"SyncGroup", 14},      {"ApiVersions", 18},
        {"InitProducerId", 22}, {"OffsetForLeaderEpoch", 23},
        {"AddPartitionsToTxn", 24}, {"AddOffsetsToTxn", 25}, {"EndTxn", 26},
        {"TxnOffsetCommit", 28},
};

/* The result of one command: ok when fmt is NULL. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void reply(const char *cmd, const char *fmt, ...)
{
        char why[512];

        if (!fmt) {
                fprintf(stderr, "sluice-mock: ok: %s\n", cmd);
                return;
        }
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof why, fmt, ap);
        va_end(ap);
        fprintf(stderr, "sluice-mock: %s: %s\n", cmd, why);
}

static void reply_err(const char *cmd, rd_kafka_resp_err_t err)
{
        if (err)
                reply(cmd, "%s", rd_kafka_err2str(err));
        else
                reply(cmd, NULL);
}

static bool number(const char *s, long min, long max, long *out)
{
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < min || v > max)
                return false;
        *out = v;
        return true;
}

static bool parse_api(const char *cmd, const char *s, int16_t *key)
{
        long v;

        for (size_t i = 0; i < sizeof api_names / sizeof *api_names; i++)
                if (strcmp(s, api_names[i].name) == 0) {
                        *key = api_names[i].key;
                        return true;
                }
        if (number(s, 0, INT16_MAX, &v)) {
                *key = (int16_t)v;
                return true;
        }
        reply(cmd, "unknown API '%s' (a name such as Produce, Fetch, Metadata, "
              "FindCoordinator, InitProducerId, EndTxn, or an ApiKey number)", s);
        return false;
}

/* Any name librdkafka knows, with or without RD_KAFKA_RESP_ERR_, or a number. */
static bool parse_error(const char *cmd, const char *s, rd_kafka_resp_err_t *err)
{
        static const char prefix[] = "RD_KAFKA_RESP_ERR_";
        const struct rd_kafka_err_desc *descs;
        size_t n;
        long v;

        if (strncmp(s, prefix, sizeof prefix - 1) == 0)
                s += sizeof prefix - 1;
        if (strcmp(s, "NO_ERROR") == 0) {
                *err = RD_KAFKA_RESP_ERR_NO_ERROR;
                return true;
        }
        rd_kafka_get_err_descs(&descs, &n);
        for (size_t i = 0; i < n; i++)
                if (descs[i].name && strcmp(s, descs[i].name) == 0) {
                        *err = descs[i].code;
                        return true;
                }
        if (number(s, INT16_MIN, INT16_MAX, &v)) {
                *err = (rd_kafka_resp_err_t)v;
                return true;
        }
        reply(cmd, "unknown error '%s' (a librdkafka error name without RD_KAFKA_RESP_ERR_, "
              "such as NOT_LEADER_FOR_PARTITION or _TRANSPORT, or a number)", s);
        return false;
}

/* A broker id from 1 to the number of brokers; with all_ok, "all" or -1 too. */
static bool parse_broker(const struct control *c, const char *cmd, const char *s, bool all_ok,
                         int32_t *id)
{
        long v;

        if (all_ok && strcmp(s, "all") == 0) {
                *id = -1;
                return true;
        }
        if (number(s, all_ok ? -1 : 1, c->brokers, &v) && v != 0) {
                *id = (int32_t)v;
                return true;
        }
        reply(cmd, "no broker '%s' (the brokers are 1 to %d%s)", s, c->brokers,
              all_ok ? ", or all" : "");
        return false;
}

static void cmd_errors(struct control *c, const char *cmd, int argc, char **argv)
{
        int16_t api;
        long count;

        if (argc < 4) {
                reply(cmd, "usage: errors API COUNT ERROR...");
                return;
        }
        if (!parse_api(cmd, argv[1], &api))
                return;
        if (!number(argv[2], 1, MAX_INJECTED, &count)) {
                reply(cmd, "COUNT '%s': expected a whole number from 1 to %d", argv[2],
                      MAX_INJECTED);
                return;
        }
        int nerr = argc - 3;
        if (nerr != 1 && nerr != count) {
                reply(cmd, "%d errors for COUNT %ld: give %ld errors, or one for all", nerr,
                      count, count);
                return;
        }
        rd_kafka_resp_err_t *errs = malloc((size_t)count * sizeof *errs);
        if (!errs) {
                reply(cmd, "out of memory");
                return;
        }
        for (int i = 0; i < nerr; i++)
                if (!parse_error(cmd, argv[3 + i], &errs[i])) {
                        free(errs);
                        return;
                }
        for (long i = nerr; i < count; i++)
                errs[i] = errs[0];
        rd_kafka_mock_push_request_errors_array(c->mc, api, (size_t)count, errs);
        free(errs);
        reply(cmd, NULL);
}

static void cmd_broker_errors(struct control *c, const char *cmd, int argc, char **argv)
{
        int32_t id;
        int16_t api;

        if (argc < 5 || (argc - 3) % 2) {
                reply(cmd, "usage: broker-errors ID API ERROR RTT_MS [ERROR RTT_MS]...");
                return;
        }
        if (!parse_broker(c, cmd, argv[1], false, &id) || !parse_api(cmd, argv[2], &api))
                return;
        int n = (argc - 3) / 2;
        struct { rd_kafka_resp_err_t err; int rtt; } *t = malloc((size_t)n * sizeof *t);
        if (!t) {
                reply(cmd, "out of memory");
                return;
        }
        for (int i = 0; i < n; i++) {
                long rtt;
                if (!parse_error(cmd, argv[3 + 2 * i], &t[i].err))
                        goto out;
                if (!number(argv[4 + 2 * i], 0, INT_MAX / 1000, &rtt)) {
                        reply(cmd, "RTT_MS '%s': expected a whole number from 0 to %d",
                              argv[4 + 2 * i], INT_MAX / 1000);
                        goto out;
                }
                t[i].rtt = (int)rtt;
        }
        /* The library has only the variadic form; pushing one tuple at a
         * time appends in the same order (the stack is first in, first out). */
        for (int i = 0; i < n; i++) {
                rd_kafka_resp_err_t err = rd_kafka_mock_broker_push_request_error_rtts(
                        c->mc, id, api, 1, t[i].err, t[i].rtt);
                if (err) {
                        reply(cmd, "%s", rd_kafka_err2str(err));
                        goto out;
                }
        }
        reply(cmd, NULL);
out:
        free(t);
}

static void cmd_updown(struct control *c, const char *cmd, int argc, char **argv, bool up)
{
        int32_t id;

        if (argc != 2) {
                reply(cmd, "usage: %s ID", argv[0]);
                return;
        }
        if (!parse_broker(c, cmd, argv[1], true, &id))
                return;
        rd_kafka_resp_err_t err = up ? rd_kafka_mock_broker_set_up(c->mc, id)
                                     : rd_kafka_mock_broker_set_down(c->mc, id);
        reply_err(cmd, err);
}

static void cmd_rtt(struct control *c, const char *cmd, int argc, char **argv)
{
        int32_t id;
        long ms;

        if (argc != 3) {
                reply(cmd, "usage: rtt ID MS");
                return;
        }
        if (!parse_broker(c, cmd, argv[1], true, &id))
                return;
        if (!number(argv[2], 0, INT_MAX / 1000, &ms)) {
                reply(cmd, "MS '%s': expected a whole number from 0 to %d", argv[2],
                      INT_MAX / 1000);
                return;
        }
        rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_rtt(c->mc, id, (int)ms);
        reply_err(cmd, err);
}

static void cmd_clear(struct control *c, const char *cmd, int argc, char **argv)
{
        int16_t api;

        if (argc != 2) {
                reply(cmd, "usage: clear API");
                return;
        }
        if (!parse_api(cmd, argv[1], &api))
                return;
        rd_kafka_mock_clear_request_errors(c->mc, api);
        reply(cmd, NULL);
}

static void cmd_topic(struct control *c, const char *cmd, int argc, char **argv)
{
        long parts;

        if (argc != 3) {
                reply(cmd, "usage: topic NAME PARTITIONS");
                return;
        }
        if (!topic_name_ok(argv[1], strlen(argv[1]))) {
                reply(cmd, "the name must be 1 to 249 of a-z A-Z 0-9 . _ -");
                return;
        }
        if (!number(argv[2], 1, MAX_PARTITIONS, &parts)) {
                reply(cmd, "PARTITIONS '%s': expected a whole number from 1 to %d", argv[2],
                      MAX_PARTITIONS);
                return;
        }
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(c->mc, argv[1], (int)parts,
                                                             c->brokers < 3 ? c->brokers : 3);
        reply_err(cmd, err);
}

static void cmd_coordinator(struct control *c, const char *cmd, int argc, char **argv)
{
        long id;

        if (argc != 4) {
                reply(cmd, "usage: coordinator group|transaction KEY ID");
                return;
        }
        if (strcmp(argv[1], "group") != 0 && strcmp(argv[1], "transaction") != 0) {
                reply(cmd, "'%s': expected group or transaction", argv[1]);
                return;
        }
        if (!number(argv[3], INT32_MIN, INT32_MAX, &id)) {
                reply(cmd, "ID '%s': expected a broker id", argv[3]);
                return;
        }
        rd_kafka_resp_err_t err = rd_kafka_mock_coordinator_set(c->mc, argv[1], argv[2],
                                                                (int32_t)id);
        reply_err(cmd, err);
}

static bool blank(char ch)
{
        return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* One line, without its newline; changes it in place. */
static void control_line(struct control *c, char *line)
{
        char *end = line + strlen(line);

        while (blank(*line))
                line++;
        while (end > line && blank(end[-1]))
                *--end = '\0';
        if (!*line || *line == '#')
                return;

        /* The command as echoed: the line, trimmed.  The words are split
         * from a copy. */
        char cmd[CONTROL_LINE_MAX + 1];
        memcpy(cmd, line, (size_t)(end - line) + 1);
        int argc = 0;
        for (char *p = line; *p;) {
                c->words[argc++] = p;
                while (*p && !blank(*p))
                        p++;
                while (blank(*p))
                        *p++ = '\0';
        }
        char **argv = c->words;

        if (strcmp(argv[0], "errors") == 0)
                cmd_errors(c, cmd, argc, argv);
        else if (strcmp(argv[0], "broker-errors") == 0)
                cmd_broker_errors(c, cmd, argc, argv);
        else if (strcmp(argv[0], "down") == 0 || strcmp(argv[0], "up") == 0)
                cmd_updown(c, cmd, argc, argv, argv[0][0] == 'u');
        else if (strcmp(argv[0], "rtt") == 0)
                cmd_rtt(c, cmd, argc, argv);
        else if (strcmp(argv[0], "clear") == 0)
                cmd_clear(c, cmd, argc, argv);
        else if (strcmp(argv[0], "topic") == 0)
                cmd_topic(c, cmd, argc, argv);
        else if (strcmp(argv[0], "coordinator") == 0)
                cmd_coordinator(c, cmd, argc, argv);
        else
                reply(cmd, "unknown command (errors, broker-errors, down, up, rtt, clear, "
                      "topic, coordinator)");
}

static void control_close(struct control *c)
{
        if (c->fd >= 0 && c->fifo)
                close(c->fd);
        c->fd = -1;
}

/* Reads what is there and runs the complete lines. */
static void control_read(struct control *c)
{
        ssize_t n = read(c->fd, c->buf + c->len, CONTROL_LINE_MAX - c->len);

        if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return;
                fprintf(stderr, "sluice-mock: read %s: %s; no more control commands\n",
                        c->fifo ? "control FIFO" : "stdin", strerror(errno));
                control_close(c);
                return;
        }
        if (n == 0) {
                /* End of stdin (a FIFO open for writing by us never ends):
                 * run a last unterminated line, keep serving. */
                c->buf[c->len] = '\0';
                if (c->len && !c->skipping)
                        control_line(c, c->buf);
                c->len = 0;
                control_close(c);
                return;
        }
        c->len += (size_t)n;

        char *line = c->buf, *nl;
        while ((nl = memchr(line, '\n', c->len - (size_t)(line - c->buf)))) {
                *nl = '\0';
                if (c->skipping)
                        c->skipping = false;
                else
                        control_line(c, line);
                line = nl + 1;
        }
        c->len -= (size_t)(line - c->buf);
        memmove(c->buf, line, c->len);
        if (c->len == CONTROL_LINE_MAX) {
                if (!c->skipping)
                        fprintf(stderr, "sluice-mock: %.40s...: line too long (at most %d "
                                "bytes); ignored\n", c->buf, CONTROL_LINE_MAX - 1);
                c->skipping = true;
                c->len = 0;
        }
}

/* Opens --control: a new FIFO at path (kept open for reading and writing,
 * so writers can come and go), or stdin for "-". */
static int control_open(struct control *c, const char *path, rd_kafka_mock_cluster_t *mc,
                        int brokers)
{
        c->mc = mc;
        c->brokers = brokers;
        c->len = 0;
        c->skipping = false;
        if (strcmp(path, "-") == 0) {
                c->fd = STDIN_FILENO;
                c->fifo = false;
                return 0;
        }
        if (mkfifo(path, 0600) != 0) {
                fprintf(stderr, "sluice-mock: cannot create the FIFO %s: %s\n", path,
                        strerror(errno));
                return -1;
        }
        c->fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (c->fd < 0) {
                fprintf(stderr, "sluice-mock: open %s: %s\n", path, strerror(errno));
                unlink(path);
                return -1;
        }
        c->fifo = true;         /* from here on, main removes it on exit */
        return 0;
}

/*
 * SIGINT and SIGTERM are blocked in every thread (librdkafka's threads
 * inherit the mask from main) and taken synchronously here.
 */
static void block_signals(sigset_t *set)
{
        sigemptyset(set);
        sigaddset(set, SIGINT);
        sigaddset(set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, set, NULL);
}

/* Serves until a signal or the deadline, running control commands. */
static int serve(const sigset_t *set, long seconds, struct control *ctl)
{
        struct timespec now, end;
        int sfd = signalfd(-1, set, SFD_CLOEXEC);

        if (sfd < 0) {
                fprintf(stderr, "sluice-mock: signalfd: %s\n", strerror(errno));
                return -1;
        }
        clock_gettime(CLOCK_MONOTONIC, &end);
        end.tv_sec += seconds;
        for (;;) {
                int timeout = -1;
                if (seconds) {
                        clock_gettime(CLOCK_MONOTONIC, &now);
                        long long ns = (long long)(end.tv_sec - now.tv_sec) * 1000000000LL +
                                       (end.tv_nsec - now.tv_nsec);
                        if (ns <= 0)
                                break;
                        long long ms = (ns + 999999) / 1000000;
                        timeout = ms < 3600000 ? (int)ms : 3600000;
                }
                struct pollfd fds[2] = {
                        { .fd = sfd, .events = POLLIN },
                        { .fd = ctl->fd, .events = POLLIN },
                };
                int n = poll(fds, ctl->fd >= 0 ? 2 : 1, timeout);
                if (n < 0 && errno != EINTR) {
                        fprintf(stderr, "sluice-mock: poll: %s\n", strerror(errno));
                        break;
                }
                if (n <= 0)
                        continue;
                if (fds[0].revents)
                        break;  /* SIGINT or SIGTERM: left pending, exit */
                if (ctl->fd >= 0 && fds[1].revents)
                        control_read(ctl);
        }
        close(sfd);
        return 0;
}

int main(int argc, char **argv)
{
        struct mock_opts o;
        sigset_t sigs;
        int rc = parse_args(argc, argv, &o);

        if (rc) {
                free(o.topics);
                return rc == 1 ? 0 : 2;
        }
        block_signals(&sigs);

        rd_kafka_t *rk = dummy_client();
        if (!rk) {
                free(o.topics);
                return 1;
        }
        rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, o.brokers);
        if (!mc) {
                fprintf(stderr, "sluice-mock: cannot start a mock cluster of %d brokers\n",
                        o.brokers);
                rd_kafka_destroy(rk);
                free(o.topics);
                return 1;
        }

        static struct control ctl = { .fd = -1 };
        bool port_written = false;
        const char *bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
        rc = create_topics(mc, &o);
        if (!rc && o.control)
                rc = control_open(&ctl, o.control, mc, o.brokers);
        if (!rc && o.port_file) {
                rc = write_port_file(o.port_file, bootstraps);
                port_written = !rc;
        }
        if (!rc) {
                printf("%s\n", bootstraps);
                if (fflush(stdout) != 0) {
                        fprintf(stderr, "sluice-mock: write stdout: %s\n", strerror(errno));
                        rc = -1;
                }
        }
        if (!rc)
                rc = serve(&sigs, o.seconds, &ctl);
        if (port_written)
                unlink(o.port_file);
        if (ctl.fifo) {
                control_close(&ctl);
                unlink(o.control);
        }

        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(rk);
        free(o.topics);
        return rc ? 1 : 0;
}
