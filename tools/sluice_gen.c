/*
 * sluice_gen.c - generates transaction events as NDJSON, deterministically.
 *
 *   sluice-gen --events N --keys K [--eps R] [--disorder MS] [--skew uniform|zipf]
 *              [--seed S] [--start MS] [--bad PERMILLE] [--output FILE|-]
 *
 * Each line: {"transactionId":"t<n>","userId":"user<k>","account":<k>,
 *             "amount":<x.yy>,"type":"deposit|withdrawal","timestamp":<ms>}
 * Event time advances by 1000/R ms per event (R events per second of event
 * time, default 10000), minus a random delay of up to --disorder ms (out of
 * order records).  --bad emits that many malformed lines per thousand.
 * The same flags always give the same bytes.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;

static uint64_t next_u64(void)
{
        /* splitmix64: fast, and a pure function of the seed. */
        uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
}

static double next_unit(void)
{
        return (double)(next_u64() >> 11) * 0x1.0p-53;
}

/* Zipf(s = 0.99) over [0, n) by inverse transform on a precomputed CDF. */
static double *zipf_cdf;

static int zipf_init(uint64_t n)
{
        zipf_cdf = malloc(n * sizeof *zipf_cdf);
        if (!zipf_cdf)
                return -ENOMEM;
        double sum = 0;
        for (uint64_t i = 0; i < n; i++) {
                sum += 1.0 / pow((double)(i + 1), 0.99);
                zipf_cdf[i] = sum;
        }
        for (uint64_t i = 0; i < n; i++)
                zipf_cdf[i] /= sum;
        return 0;
}

static uint64_t zipf_next(uint64_t n)
{
        double u = next_unit();
        uint64_t lo = 0, hi = n - 1;
        while (lo < hi) {
                uint64_t mid = (lo + hi) / 2;
                if (zipf_cdf[mid] < u)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static int parse_u64(const char *opt, const char *s, uint64_t *out)
{
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s || *end || s[0] == '-') {
                fprintf(stderr, "sluice-gen: %s '%s': expected a whole number\n", opt, s);
                return -1;
        }
        *out = v;
        return 0;
}

static const char *const bad_lines[] = {
        "{\"transactionId\":\"bad\",\"userId\":\"user1\",\"amount\":1.0,\"timestamp\":",
        "not json at all",
        "[1,2,3]",
        "{\"transactionId\":\"bad\",\"userId\":\"user1\",\"amount\":\"12\",\"timestamp\":1}",
        "{\"transactionId\":\"bad\",\"userId\":\"user1\",\"amount\":1.0}",
        "{\"transactionId\":\"bad\",\"userId\":\"user1\",\"amount\":1.0,\"timestamp\":\"yesterday\"}",
};

int main(int argc, char **argv)
{
        static const struct option longopts[] = {
                {"events", required_argument, NULL, 'n'},
                {"keys", required_argument, NULL, 'k'},
                {"eps", required_argument, NULL, 'r'},
                {"disorder", required_argument, NULL, 'd'},
                {"skew", required_argument, NULL, 'z'},
                {"seed", required_argument, NULL, 's'},
                {"start", required_argument, NULL, 't'},
                {"bad", required_argument, NULL, 'b'},
                {"output", required_argument, NULL, 'o'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        uint64_t events = 1000000, keys = 1000, eps = 10000, disorder = 0, seed = 42;
        uint64_t start = 1700000000000ull, bad = 0;
        bool zipf = false;
        const char *out = "-";
        int c;
        while ((c = getopt_long(argc, argv, "n:k:o:h", longopts, NULL)) != -1) {
                int rc = 0;
                switch (c) {
                case 'n': rc = parse_u64("--events", optarg, &events); break;
                case 'k': rc = parse_u64("--keys", optarg, &keys); break;
                case 'r': rc = parse_u64("--eps", optarg, &eps); break;
                case 'd': rc = parse_u64("--disorder", optarg, &disorder); break;
                case 's': rc = parse_u64("--seed", optarg, &seed); break;
                case 't': rc = parse_u64("--start", optarg, &start); break;
                case 'b': rc = parse_u64("--bad", optarg, &bad); break;
                case 'o': out = optarg; break;
                case 'z':
                        if (strcmp(optarg, "zipf") == 0) {
                                zipf = true;
                        } else if (strcmp(optarg, "uniform") != 0) {
                                fprintf(stderr, "sluice-gen: --skew '%s': expected uniform or zipf\n", optarg);
                                return 2;
                        }
                        break;
                case 'h':
                        printf("usage: sluice-gen --events N --keys K [--eps R] [--disorder MS]\n"
                               "                  [--skew uniform|zipf] [--seed S] [--start MS]\n"
                               "                  [--bad PERMILLE] [--output FILE|-]\n");
                        return 0;
                default:
                        return 2;
                }
                if (rc)
                        return 2;
        }
        if (optind != argc) {
                fprintf(stderr, "sluice-gen: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }
        if (keys == 0 || eps == 0 || bad > 1000) {
                fprintf(stderr, "sluice-gen: --keys and --eps must be > 0, --bad at most 1000\n");
                return 2;
        }
        if (zipf && zipf_init(keys) != 0) {
                fprintf(stderr, "sluice-gen: out of memory\n");
                return 1;
        }
        FILE *f = strcmp(out, "-") == 0 ? stdout : fopen(out, "w");
        if (!f) {
                fprintf(stderr, "sluice-gen: cannot create %s: %s\n", out, strerror(errno));
                return 1;
        }
        setvbuf(f, NULL, _IOFBF, 1 << 20);
        rng_state = seed;
        for (uint64_t i = 0; i < events; i++) {
                if (bad && next_u64() % 1000 < bad) {
                        fprintf(f, "%s\n", bad_lines[next_u64() % (sizeof bad_lines / sizeof bad_lines[0])]);
                        continue;
                }
                uint64_t k = zipf ? zipf_next(keys) : next_u64() % keys;
                int64_t ts = (int64_t)(start + i * 1000 / eps);
                if (disorder)
                        ts -= (int64_t)(next_u64() % (disorder + 1));
                int64_t cents = (int64_t)(next_u64() % 200000) - 50000;
                fprintf(f,
                        "{\"transactionId\":\"t%llu\",\"userId\":\"user%llu\",\"account\":%llu,"
                        "\"amount\":%s%lld.%02lld,\"type\":\"%s\",\"timestamp\":%lld}\n",
                        (unsigned long long)i, (unsigned long long)k, (unsigned long long)k,
                        cents < 0 ? "-" : "", (long long)(llabs(cents) / 100),
                        (long long)(llabs(cents) % 100), cents < 0 ? "withdrawal" : "deposit",
                        (long long)ts);
        }
        if (fflush(f) != 0 || (f != stdout && fclose(f) != 0)) {
                fprintf(stderr, "sluice-gen: write %s: %s\n", out, strerror(errno));
                return 1;
        }
        free(zipf_cdf);
        return 0;
}
