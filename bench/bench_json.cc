/*
 * bench_json.cc - per-record decode cost of sl_json_decode() against
 * simdjson On-Demand, both extracting the same 4 typed columns from the
 * same records.
 *
 * Records: 1024 distinct records per shape (values vary so that branch
 * predictors cannot learn one record), each decoded once per benchmark
 * iteration, round robin.  The reported time is per record; the
 * records/s counter is its inverse.
 *
 *   narrow: {"transactionId":"txn123456","userId":"user456",
 *            "amount":200.50,"timestamp":1678901234000}, all 4 extracted
 *   wide:   13 members, 4 extracted (userId, amount, timestamp, verified),
 *           one nested object ("device") and an array skipped
 *   gen:    the record of tools/sluice-gen (bench/run, bench/e2e.sh), ~120
 *           bytes: {"transactionId":"t<n>","userId":"user<k>","account":<k>,
 *           "amount":<x.yy>,"type":"deposit|withdrawal","timestamp":<ms>},
 *           the narrow 4 columns extracted (what the file-mode scenarios
 *           declare), account and type skipped
 *
 * simdjson needs SIMDJSON_PADDING readable bytes after the record:
 *   simdjson_copy     memcpy into a reused padded buffer, then parse: a
 *                     record handed over by librdkafka is not padded
 *   simdjson_inplace  parse where the record lies (each record here has
 *                     the padding after it): the best case, e.g. NDJSON
 *                     lines inside one big padded read buffer
 * Keys are compared after unescaping (field.unescaped_key()), which is
 * what sl_json_decode() does; simdjson_rawkey compares the raw key bytes
 * (faster, but misses keys written with escapes) as simdjson's best case.
 *
 * Before timing, every record is decoded by both and the values compared;
 * any mismatch aborts.  `bench_json --corpus DIR` instead runs both
 * decoders over DIR/json_bad and DIR/json_good and prints which records
 * each accepts (simdjson both On-Demand, as benchmarked, and DOM, which
 * validates the whole document).
 *
 * Build.  simdjson's On-Demand code is compiled into this file and picks
 * its kernel at compile time: without -march it is the scalar "fallback"
 * kernel, so this file needs -march=native (icelake kernel on AVX-512
 * machines).  The decoder is built as the engine ships it, plain -O2
 * (with -march=native GCC 12's znver4 tuning made it ~20% slower):
 *   gcc -std=c11 -O2 -I. -c engine/json_decode.c -o json_decode.o
 *   g++ -O2 -march=native -std=c++17 -I. bench/bench_json.cc json_decode.o \
 *       -lbenchmark -lsimdjson -lpthread -o bench_json
 */
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

extern "C" {
#include "engine/json_decode.h"
}

using namespace simdjson;

namespace {

constexpr size_t kRecords = 1024;

struct Row {
        std::string_view id; /* narrow: transactionId; wide: unused */
        std::string_view user;
        double amount = 0;
        int64_t ts = 0;
        bool verified = false;
};

/* Records, each followed by SIMDJSON_PADDING bytes of slack. */
struct Corpus {
        std::vector<std::unique_ptr<char[]>> bufs;
        std::vector<size_t> lens;
        size_t maxlen = 0;
};

uint64_t rng_next(uint64_t *s)
{
        uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
}

void add_record(Corpus *c, const std::string &r)
{
        std::unique_ptr<char[]> b(new char[r.size() + SIMDJSON_PADDING]);
        memcpy(b.get(), r.data(), r.size());
        memset(b.get() + r.size(), 0, SIMDJSON_PADDING);
        c->bufs.push_back(std::move(b));
        c->lens.push_back(r.size());
        if (r.size() > c->maxlen)
                c->maxlen = r.size();
}

Corpus make_narrow()
{
        Corpus c;
        uint64_t s = 1;
        char tmp[512];
        for (size_t i = 0; i < kRecords; i++) {
                uint64_t r = rng_next(&s);
                snprintf(tmp, sizeof tmp,
                         "{\"transactionId\":\"txn%06u\",\"userId\":\"user%u\","
                         "\"amount\":%u.%02u,\"timestamp\":%" PRIu64 "}",
                         (unsigned)(r % 1000000), (unsigned)(r >> 20) % 100000,
                         (unsigned)(r >> 40) % 5000, (unsigned)(r >> 52) % 100,
                         (uint64_t)1678901234000 + i * 37);
                add_record(&c, tmp);
        }
        return c;
}

Corpus make_wide()
{
        Corpus c;
        uint64_t s = 2;
        static const char *types[] = { "purchase", "refund", "view", "add_to_cart" };
        static const char *os[] = { "android", "ios", "web" };
        static const char *cur[] = { "EUR", "USD", "GBP" };
        char tmp[1024];
        for (size_t i = 0; i < kRecords; i++) {
                uint64_t r = rng_next(&s);
                snprintf(tmp, sizeof tmp,
                         "{\"eventId\":\"evt-%08u\",\"eventType\":\"%s\",\"userId\":\"user%u\","
                         "\"sessionId\":\"sess-%06x\",\"amount\":%u.%02u,\"currency\":\"%s\","
                         "\"items\":%u,\"timestamp\":%" PRIu64 ",\"device\":{\"os\":\"%s\","
                         "\"version\":\"13.%u\",\"model\":\"Pixel %u\",\"screen\":[1080,2400]},"
                         "\"tags\":[\"a\",\"b\"],\"country\":\"DE\",\"promo\":null,"
                         "\"verified\":%s}",
                         (unsigned)(r % 100000000), types[r % 4], (unsigned)(r >> 20) % 100000,
                         (unsigned)(r >> 8) & 0xFFFFFF, (unsigned)(r >> 40) % 5000,
                         (unsigned)(r >> 52) % 100, cur[(r >> 3) % 3], (unsigned)(r >> 33) % 9,
                         (uint64_t)1678901234000 + i * 37, os[(r >> 5) % 3],
                         (unsigned)(r >> 11) % 10, 5 + (unsigned)(r >> 13) % 4,
                         (r >> 17) & 1 ? "true" : "false");
                add_record(&c, tmp);
        }
        return c;
}

Corpus make_gen()
{
        Corpus c;
        uint64_t s = 3;
        char tmp[512];
        for (size_t i = 0; i < kRecords; i++) {
                uint64_t r = rng_next(&s);
                unsigned long long k = (r >> 8) % 1000000;
                long long cents = (long long)(r >> 40) % 200000 - 50000;
                long long a = cents < 0 ? -cents : cents;
                snprintf(tmp, sizeof tmp,
                         "{\"transactionId\":\"t%llu\",\"userId\":\"user%llu\",\"account\":%llu,"
                         "\"amount\":%s%lld.%02lld,\"type\":\"%s\",\"timestamp\":%lld}",
                         (unsigned long long)(12345678 + i), k, k, cents < 0 ? "-" : "", a / 100,
                         a % 100, cents < 0 ? "withdrawal" : "deposit",
                         (long long)(1700000000000 + i / 50));
                add_record(&c, tmp);
        }
        return c;
}

const Corpus &narrow()
{
        static Corpus c = make_narrow();
        return c;
}

const Corpus &wide()
{
        static Corpus c = make_wide();
        return c;
}

enum Shape { kNarrow, kWide, kGen };

const Corpus &corpus(int shape)
{
        static Corpus g = make_gen();
        return shape == kWide ? wide() : shape == kGen ? g : narrow();
}

/* ---- sluice ------------------------------------------------------------- */

const sl_json_field kNarrowFields[] = {
        { "transactionId", SL_T_STRING },
        { "userId", SL_T_STRING },
        { "amount", SL_T_DOUBLE },
        { "timestamp", SL_T_BIGINT },
};

const sl_json_field kWideFields[] = {
        { "userId", SL_T_STRING },
        { "amount", SL_T_DOUBLE },
        { "timestamp", SL_T_BIGINT },
        { "verified", SL_T_BOOL },
};

bool sl_row(const sl_json_schema *js, bool is_wide, const char *p, size_t n, char *scratch,
            Row *row)
{
        sl_value out[4];
        sl_json_error err;
        if (sl_json_decode(js, p, n, out, scratch, &err) != SL_JSON_OK)
                return false;
        if (!is_wide) {
                row->id = std::string_view(out[0].u.s.p, out[0].u.s.len);
                row->user = std::string_view(out[1].u.s.p, out[1].u.s.len);
                row->amount = out[2].u.d;
                row->ts = out[3].u.i;
        } else {
                row->user = std::string_view(out[0].u.s.p, out[0].u.s.len);
                row->amount = out[1].u.d;
                row->ts = out[2].u.i;
                row->verified = out[3].u.b;
        }
        return true;
}

/* ---- simdjson On-Demand ------------------------------------------------- */

template <bool kRawKey>
bool simd_row(ondemand::parser &parser, bool is_wide, const char *p, size_t n, size_t cap,
              Row *row)
{
        ondemand::document doc;
        if (parser.iterate(p, n, cap).get(doc))
                return false;
        ondemand::object obj;
        if (doc.get_object().get(obj))
                return false;
        for (auto field : obj) {
                std::string_view k;
                ondemand::raw_json_string rk;
                if constexpr (kRawKey) {
                        if (field.key().get(rk))
                                return false;
                } else {
                        if (field.unescaped_key().get(k))
                                return false;
                }
                auto is = [&](std::string_view name) {
                        if constexpr (kRawKey)
                                return rk == name;
                        else
                                return k == name;
                };
                ondemand::value v;
                if (field.value().get(v))
                        return false;
                if (!is_wide && is("transactionId")) {
                        if (v.get_string().get(row->id))
                                return false;
                } else if (is("userId")) {
                        if (v.get_string().get(row->user))
                                return false;
                } else if (is("amount")) {
                        if (v.get_double().get(row->amount))
                                return false;
                } else if (is("timestamp")) {
                        if (v.get_int64().get(row->ts))
                                return false;
                } else if (is_wide && is("verified")) {
                        if (v.get_bool().get(row->verified))
                                return false;
                }
        }
        /* 3.0.1 has no document::at_end(): the iterator reports
         * OUT_OF_BOUNDS only when no token follows the object. */
        return doc.current_location().error() == OUT_OF_BOUNDS;
}

/* ---- benchmarks --------------------------------------------------------- */

void BM_sl_json_decode(benchmark::State &state, int shape)
{
        const Corpus &c = corpus(shape);
        const bool is_wide = shape == kWide;
        sl_json_schema *js = sl_json_schema_new(is_wide ? kWideFields : kNarrowFields, 4);
        std::unique_ptr<char[]> scratch(new char[c.maxlen]);
        Row row;
        size_t i = 0;
        for (auto _ : state) {
                bool ok = sl_row(js, is_wide, c.bufs[i].get(), c.lens[i], scratch.get(), &row);
                benchmark::DoNotOptimize(ok);
                benchmark::DoNotOptimize(row);
                i = (i + 1) & (kRecords - 1);
        }
        state.SetItemsProcessed(int64_t(state.iterations()));
        sl_json_schema_free(js);
}

template <bool kRawKey>
void BM_simdjson_inplace(benchmark::State &state, int shape)
{
        const Corpus &c = corpus(shape);
        const bool is_wide = shape == kWide;
        ondemand::parser parser;
        Row row;
        size_t i = 0;
        for (auto _ : state) {
                bool ok = simd_row<kRawKey>(parser, is_wide, c.bufs[i].get(), c.lens[i],
                                            c.lens[i] + SIMDJSON_PADDING, &row);
                benchmark::DoNotOptimize(ok);
                benchmark::DoNotOptimize(row);
                i = (i + 1) & (kRecords - 1);
        }
        state.SetItemsProcessed(int64_t(state.iterations()));
}

void BM_simdjson_copy(benchmark::State &state, int shape)
{
        const Corpus &c = corpus(shape);
        const bool is_wide = shape == kWide;
        ondemand::parser parser;
        size_t cap = c.maxlen + SIMDJSON_PADDING;
        std::unique_ptr<char[]> padded(new char[cap]);
        memset(padded.get(), 0, cap);
        Row row;
        size_t i = 0;
        for (auto _ : state) {
                memcpy(padded.get(), c.bufs[i].get(), c.lens[i]);
                bool ok = simd_row<false>(parser, is_wide, padded.get(), c.lens[i], cap, &row);
                benchmark::DoNotOptimize(ok);
                benchmark::DoNotOptimize(row);
                i = (i + 1) & (kRecords - 1);
        }
        state.SetItemsProcessed(int64_t(state.iterations()));
}

void BM_simdjson_inplace_unescaped(benchmark::State &state, int shape)
{
        BM_simdjson_inplace<false>(state, shape);
}

void BM_simdjson_inplace_rawkey(benchmark::State &state, int shape)
{
        BM_simdjson_inplace<true>(state, shape);
}

BENCHMARK_CAPTURE(BM_sl_json_decode, narrow, kNarrow);
BENCHMARK_CAPTURE(BM_simdjson_copy, narrow, kNarrow);
BENCHMARK_CAPTURE(BM_simdjson_inplace_unescaped, narrow, kNarrow);
BENCHMARK_CAPTURE(BM_simdjson_inplace_rawkey, narrow, kNarrow);
BENCHMARK_CAPTURE(BM_sl_json_decode, wide, kWide);
BENCHMARK_CAPTURE(BM_simdjson_copy, wide, kWide);
BENCHMARK_CAPTURE(BM_simdjson_inplace_unescaped, wide, kWide);
BENCHMARK_CAPTURE(BM_simdjson_inplace_rawkey, wide, kWide);
BENCHMARK_CAPTURE(BM_sl_json_decode, gen, kGen);
BENCHMARK_CAPTURE(BM_simdjson_copy, gen, kGen);
BENCHMARK_CAPTURE(BM_simdjson_inplace_unescaped, gen, kGen);
BENCHMARK_CAPTURE(BM_simdjson_inplace_rawkey, gen, kGen);

/* Both decoders must agree on every benchmarked record. */
void cross_check(int shape)
{
        const Corpus &c = corpus(shape);
        const bool is_wide = shape == kWide;
        sl_json_schema *js = sl_json_schema_new(is_wide ? kWideFields : kNarrowFields, 4);
        std::unique_ptr<char[]> scratch(new char[c.maxlen]);
        ondemand::parser parser;
        for (size_t i = 0; i < kRecords; i++) {
                Row a, b;
                const char *p = c.bufs[i].get();
                size_t n = c.lens[i];
                bool ok = sl_row(js, is_wide, p, n, scratch.get(), &a);
                /* b's strings live in the parser: compare before the next parse */
                for (int raw = 0; ok && raw < 2; raw++) {
                        b = Row();
                        ok = raw ? simd_row<true>(parser, is_wide, p, n, n + SIMDJSON_PADDING, &b)
                                 : simd_row<false>(parser, is_wide, p, n, n + SIMDJSON_PADDING, &b);
                        ok = ok && a.id == b.id && a.user == b.user && a.amount == b.amount &&
                             a.ts == b.ts && a.verified == b.verified;
                }
                if (!ok) {
                        fprintf(stderr, "decoders disagree on record %zu: %.*s\n", i, (int)n, p);
                        exit(1);
                }
        }
        sl_json_schema_free(js);
}

/* ---- corpus mode -------------------------------------------------------- */

const sl_json_field kCorpusFields[] = {
        { "id", SL_T_STRING }, { "s", SL_T_STRING },  { "n", SL_T_BIGINT },
        { "i", SL_T_INT },     { "x", SL_T_DOUBLE },  { "ok", SL_T_BOOL },
        { "caf\xc3\xa9", SL_T_STRING },
};

/* The corpus schema through On-Demand: same columns, same checks. */
error_code simd_corpus(ondemand::parser &parser, const padded_string &ps)
{
        ondemand::document doc;
        error_code e = parser.iterate(ps).get(doc);
        if (e)
                return e;
        ondemand::object obj;
        if ((e = doc.get_object().get(obj)))
                return e;
        for (auto field : obj) {
                std::string_view k;
                if ((e = field.unescaped_key().get(k)))
                        return e;
                ondemand::value v;
                if ((e = field.value().get(v)))
                        return e;
                bool is_null = false;
                if (k == "id" || k == "s" || k == "n" || k == "i" || k == "x" || k == "ok" ||
                    k == "caf\xc3\xa9") {
                        if ((e = v.is_null().get(is_null)))
                                return e;
                        if (is_null)
                                continue;
                }
                std::string_view sv;
                int64_t iv;
                double dv;
                bool bv;
                if (k == "id" || k == "s" || k == "caf\xc3\xa9")
                        e = v.get_string().get(sv);
                else if (k == "n")
                        e = v.get_int64().get(iv);
                else if (k == "i") {
                        e = v.get_int64().get(iv);
                        if (!e && (iv < INT32_MIN || iv > INT32_MAX))
                                e = NUMBER_OUT_OF_RANGE;
                } else if (k == "x")
                        e = v.get_double().get(dv);
                else if (k == "ok")
                        e = v.get_bool().get(bv);
                if (e)
                        return e;
        }
        if (doc.current_location().error() != OUT_OF_BOUNDS)
                return TRAILING_CONTENT;
        return SUCCESS;
}

std::vector<std::string> list_json(const std::string &dir)
{
        std::vector<std::string> v;
        DIR *d = opendir(dir.c_str());
        if (!d) {
                fprintf(stderr, "cannot open %s\n", dir.c_str());
                exit(1);
        }
        while (dirent *e = readdir(d)) {
                std::string n = e->d_name;
                if (n.size() > 5 && n.compare(n.size() - 5, 5, ".json") == 0)
                        v.push_back(n);
        }
        closedir(d);
        std::sort(v.begin(), v.end());
        return v;
}

int run_corpus(const std::string &root)
{
        sl_json_schema *js = sl_json_schema_new(kCorpusFields, 7);
        ondemand::parser od;
        dom::parser dp;
        int disagreements = 0;
        for (int good = 0; good < 2; good++) {
                std::string dir = root + (good ? "/json_good" : "/json_bad");
                int n = 0, sl_ok = 0, od_ok = 0, dom_ok = 0;
                printf("\n%s (%s: every record should be %s)\n", dir.c_str(),
                       good ? "valid" : "malformed", good ? "accepted" : "rejected");
                printf("%-34s %-14s %-26s %s\n", "file", "sl_json", "simdjson on-demand",
                       "simdjson dom");
                for (const std::string &name : list_json(dir)) {
                        padded_string ps;
                        if (padded_string::load(dir + "/" + name).get(ps)) {
                                fprintf(stderr, "cannot read %s\n", name.c_str());
                                exit(1);
                        }
                        std::unique_ptr<char[]> scratch(new char[ps.size() + 1]);
                        sl_value out[7];
                        sl_json_error err;
                        enum sl_json_status st =
                                sl_json_decode(js, ps.data(), ps.size(), out, scratch.get(), &err);
                        error_code eo = simd_corpus(od, ps);
                        dom::element el;
                        error_code ed = dp.parse(ps).get(el);
                        bool a = st == SL_JSON_OK, b = eo == SUCCESS, c = ed == SUCCESS;
                        n++;
                        sl_ok += a;
                        od_ok += b;
                        dom_ok += c;
                        /* print only the lines where someone is wrong */
                        bool want = good;
                        if (a != want || b != want || c != want) {
                                printf("%-34s %-14s %-26s %s\n", name.c_str(),
                                       a ? "ACCEPT" : sl_json_status_str(st),
                                       b ? "ACCEPT" : error_message(eo),
                                       c ? "ACCEPT" : error_message(ed));
                                disagreements++;
                        }
                }
                printf("files %d: accepted by sl_json %d, on-demand %d, dom %d\n", n, sl_ok,
                       od_ok, dom_ok);
        }
        sl_json_schema_free(js);
        return 0;
}

} // namespace

int main(int argc, char **argv)
{
        if (argc == 3 && strcmp(argv[1], "--corpus") == 0)
                return run_corpus(argv[2]);
        cross_check(kNarrow);
        cross_check(kWide);
        cross_check(kGen);
        benchmark::Initialize(&argc, argv);
        if (benchmark::ReportUnrecognizedArguments(argc, argv))
                return 1;
        benchmark::AddCustomContext("simdjson",
                                    std::string(SIMDJSON_STRINGIFY(SIMDJSON_VERSION)) + " on-demand kernel " +
                                            SIMDJSON_STRINGIFY(SIMDJSON_BUILTIN_IMPLEMENTATION));
        benchmark::RunSpecifiedBenchmarks();
        benchmark::Shutdown();
        return 0;
}
