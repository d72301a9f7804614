/*
 * sluice_mock.c - a standalone mock Kafka cluster for tests and demos.
 *
 *   sluice-mock [--brokers N] [--partitions P] [--topic NAME[:PARTITIONS]]...
 *               [--port-file FILE] [--seconds S]
 *
 * Runs librdkafka's mock cluster (rdkafka_mock.h) on loopback, creates the
 * listed topics, prints the bootstrap address as the only line on stdout
 * (and to --port-file, written atomically), and serves until SIGINT or
 * SIGTERM, or for S seconds.  The port file is removed again on exit.
 *
 * The mock is in-memory and keeps only about 5 MiB or 100,000 batches per
 * partition, and topics that are not created here are auto-created with 4
 * partitions by the first metadata request that names them.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_BROKERS 1024
#define MAX_PARTITIONS 100000

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
};

static void usage(FILE *f)
{
        fprintf(f,
                "usage: sluice-mock [--brokers N] [--partitions P] [--topic NAME[:PARTITIONS]]...\n"
                "                   [--port-file FILE] [--seconds S]\n"
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
                "  --help                 show this text\n");
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

static void serve(const sigset_t *set, long seconds)
{
        struct timespec now, end;

        clock_gettime(CLOCK_MONOTONIC, &end);
        end.tv_sec += seconds;
        for (;;) {
                struct timespec wait = { .tv_sec = 3600 };
                if (seconds) {
                        clock_gettime(CLOCK_MONOTONIC, &now);
                        long long ns = (long long)(end.tv_sec - now.tv_sec) * 1000000000LL +
                                       (end.tv_nsec - now.tv_nsec);
                        if (ns <= 0)
                                return;
                        if (ns < 3600LL * 1000000000LL)
                                wait = (struct timespec){ ns / 1000000000LL, ns % 1000000000LL };
                }
                int sig = sigtimedwait(set, NULL, &wait);
                if (sig == SIGINT || sig == SIGTERM)
                        return;
                /* EAGAIN (timed out) or EINTR: look at the clock again */
        }
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

        const char *bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
        rc = create_topics(mc, &o);
        if (!rc && o.port_file)
                rc = write_port_file(o.port_file, bootstraps);
        if (!rc) {
                printf("%s\n", bootstraps);
                if (fflush(stdout) != 0) {
                        fprintf(stderr, "sluice-mock: write stdout: %s\n", strerror(errno));
                        rc = -1;
                }
        }
        if (!rc)
                serve(&sigs, o.seconds);
        if (o.port_file && !rc)
                unlink(o.port_file);

        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(rk);
        free(o.topics);
        return rc ? 1 : 0;
}
