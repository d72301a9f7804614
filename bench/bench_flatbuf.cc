/*
 * bench_flatbuf.cc - per-record decode cost of FlatBuffers records
 * (engine/flatbuf.h, sl_fb_decode: verify what is read, then read it)
 * against sl_json_decode on the same events written as JSON.
 *
 * Records: 1024 events of the shape tools/sluice-gen writes, the table of
 * the generator's stream (field i = column i):
 *   transactionId STRING, userId STRING, account BIGINT, amount DOUBLE,
 *   type STRING, timestamp BIGINT
 * encoded with sl_fb_encode (a bare buffer, as a Kafka message value holds
 * it; in a file the same buffer follows its 4-byte size), and the same
 * events as sluice-gen's NDJSON line (~120 bytes).  Each is decoded once
 * per iteration, round robin; time is per record.
 *
 *   fb_decode/cols:3     userId, amount, timestamp: what the bench
 *                        scenarios' queries read (the others are skipped
 *                        unverified, as sluice plans it)
 *   fb_decode/cols:6     every column
 *   json_decode/cols:3   sl_json_decode with those 3 columns declared (it
 *                        validates the whole record either way)
 *   json_decode/cols:6   every column declared
 *
 * Before timing, every record is decoded both ways and the values
 * compared; any mismatch aborts.
 */
#include <benchmark/benchmark.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "engine/flatbuf.h"
#include "engine/json_decode.h"
}

namespace {

constexpr size_t kRecords = 1024;
constexpr uint32_t kCols = 6;
const enum sl_type kTypes[kCols] = {SL_T_STRING, SL_T_STRING, SL_T_BIGINT,
                                    SL_T_DOUBLE, SL_T_STRING, SL_T_BIGINT};
const char *const kNames[kCols] = {"transactionId", "userId", "account",
                                   "amount", "type", "timestamp"};
const uint32_t kRead3[3] = {1, 3, 5}; /* userId, amount, timestamp */

struct Corpus {
        std::vector<std::string> fb;   /* bare buffers (8-byte aligned copies below) */
        std::vector<std::vector<uint64_t>> fb_aligned;
        std::vector<std::string> json;
};

uint64_t rng_next(uint64_t *s)
{
        uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
}

const Corpus &corpus()
{
        static Corpus c = [] {
                Corpus c;
                uint64_t s = 3;
                char id[32], user[32], line[512];
                for (size_t i = 0; i < kRecords; i++) {
                        uint64_t r = rng_next(&s);
                        unsigned long long k = (r >> 8) % 1000000;
                        long long cents = (long long)(r >> 40) % 200000 - 50000;
                        long long a = cents < 0 ? -cents : cents;
                        const char *type = cents < 0 ? "withdrawal" : "deposit";
                        long long ts = 1700000000000ll + (long long)i / 50;
                        int idn = snprintf(id, sizeof id, "t%llu", 12345678ull + i);
                        int un = snprintf(user, sizeof user, "user%llu", k);
                        snprintf(line, sizeof line,
                                 "{\"transactionId\":\"%s\",\"userId\":\"%s\",\"account\":%llu,"
                                 "\"amount\":%s%lld.%02lld,\"type\":\"%s\",\"timestamp\":%lld}",
                                 id, user, k, cents < 0 ? "-" : "", a / 100, a % 100, type, ts);
                        c.json.push_back(line);
                        /* the same value as the JSON text, correctly rounded */
                        double amount = strtod(strstr(line, "\"amount\":") + 9, nullptr);
                        sl_value v[kCols] = {};
                        v[0].type = SL_T_STRING, v[0].u.s = {id, (uint32_t)idn};
                        v[1].type = SL_T_STRING, v[1].u.s = {user, (uint32_t)un};
                        v[2].type = SL_T_BIGINT, v[2].u.i = (int64_t)k;
                        v[3].type = SL_T_DOUBLE, v[3].u.d = amount;
                        v[4].type = SL_T_STRING, v[4].u.s = {type, (uint32_t)strlen(type)};
                        v[5].type = SL_T_BIGINT, v[5].u.i = ts;
                        sl_buf b = {};
                        sl_fb_encode(kTypes, v, kCols, &b);
                        if (!sl_buf_ok(&b) || b.len < SL_FB_FRAME_HEAD + SL_FB_MIN_SIZE) {
                                fprintf(stderr, "bench_flatbuf: sl_fb_encode failed\n");
                                exit(1);
                        }
                        c.fb.emplace_back(b.p + SL_FB_FRAME_HEAD, b.len - SL_FB_FRAME_HEAD);
                        sl_buf_free(&b);
                        /* buffers are read from 8-byte aligned memory, as from a batch */
                        std::vector<uint64_t> al((c.fb.back().size() + 7) / 8);
                        memcpy(al.data(), c.fb.back().data(), c.fb.back().size());
                        c.fb_aligned.push_back(std::move(al));
                }
                return c;
        }();
        return c;
}

sl_fb_schema *fb_schema(int cols)
{
        sl_fb_schema *fs = sl_fb_schema_new(kTypes, kCols);
        if (!fs)
                abort();
        for (uint32_t i = 0; i < (uint32_t)cols && cols == 3; i++)
                sl_fb_schema_read(fs, kRead3[i]);
        for (uint32_t i = 0; i < kCols && cols == 6; i++)
                sl_fb_schema_read(fs, i);
        return fs;
}

sl_json_schema *json_schema(int cols)
{
        sl_json_field f[kCols];
        for (uint32_t i = 0; i < (uint32_t)cols; i++) {
                uint32_t c = cols == 3 ? kRead3[i] : i;
                f[i] = {kNames[c], kTypes[c]};
        }
        sl_json_schema *js = sl_json_schema_new(f, (uint32_t)cols);
        if (!js)
                abort();
        return js;
}

bool same(const sl_value &a, const sl_value &b)
{
        if (a.type != b.type)
                return false;
        if (a.type == SL_T_STRING)
                return a.u.s.len == b.u.s.len && memcmp(a.u.s.p, b.u.s.p, a.u.s.len) == 0;
        if (a.type == SL_T_DOUBLE)
                return a.u.d == b.u.d;
        return a.u.i == b.u.i;
}

void cross_check(int cols)
{
        const Corpus &c = corpus();
        sl_fb_schema *fs = fb_schema(cols);
        sl_json_schema *js = json_schema(cols);
        std::vector<char> scratch(512);
        for (size_t i = 0; i < kRecords; i++) {
                sl_value fv[kCols], jv[kCols];
                sl_fb_error fe;
                sl_json_error je;
                if (sl_fb_decode(fs, (const char *)c.fb_aligned[i].data(), c.fb[i].size(), fv,
                                 &fe) != SL_FB_OK ||
                    sl_json_decode(js, c.json[i].data(), c.json[i].size(), jv, scratch.data(),
                                   &je) != SL_JSON_OK) {
                        fprintf(stderr, "bench_flatbuf: record %zu does not decode\n", i);
                        exit(1);
                }
                for (uint32_t j = 0; j < (uint32_t)cols; j++) {
                        uint32_t col = cols == 3 ? kRead3[j] : j;
                        if (!same(fv[col], jv[j])) {
                                fprintf(stderr, "bench_flatbuf: record %zu column %s differs\n",
                                        i, kNames[col]);
                                exit(1);
                        }
                }
        }
        sl_fb_schema_free(fs);
        sl_json_schema_free(js);
}

void bm_fb_decode(benchmark::State &state)
{
        const Corpus &c = corpus();
        sl_fb_schema *fs = fb_schema((int)state.range(0));
        sl_value out[kCols];
        sl_fb_error err;
        size_t i = 0;
        for (auto _ : state) {
                auto st = sl_fb_decode(fs, (const char *)c.fb_aligned[i].data(), c.fb[i].size(),
                                       out, &err);
                benchmark::DoNotOptimize(st);
                benchmark::DoNotOptimize(out);
                i = (i + 1) & (kRecords - 1);
        }
        state.SetItemsProcessed((int64_t)state.iterations());
        size_t bytes = 0;
        for (auto &b : c.fb)
                bytes += b.size();
        state.counters["bytes_per_record"] = (double)bytes / kRecords;
        sl_fb_schema_free(fs);
}

void bm_json_decode(benchmark::State &state)
{
        const Corpus &c = corpus();
        sl_json_schema *js = json_schema((int)state.range(0));
        std::vector<char> scratch(512);
        sl_value out[kCols];
        sl_json_error err;
        size_t i = 0;
        for (auto _ : state) {
                auto st = sl_json_decode(js, c.json[i].data(), c.json[i].size(), out,
                                         scratch.data(), &err);
                benchmark::DoNotOptimize(st);
                benchmark::DoNotOptimize(out);
                i = (i + 1) & (kRecords - 1);
        }
        state.SetItemsProcessed((int64_t)state.iterations());
        size_t bytes = 0;
        for (auto &j : c.json)
                bytes += j.size();
        state.counters["bytes_per_record"] = (double)bytes / kRecords;
        sl_json_schema_free(js);
}

} // namespace

BENCHMARK(bm_fb_decode)->Name("fb_decode")->Arg(3)->Arg(6)->ArgName("cols");
BENCHMARK(bm_json_decode)->Name("json_decode")->Arg(3)->Arg(6)->ArgName("cols");

int main(int argc, char **argv)
{
        cross_check(3);
        cross_check(6);
        benchmark::Initialize(&argc, argv);
        if (benchmark::ReportUnrecognizedArguments(argc, argv))
                return 1;
        benchmark::RunSpecifiedBenchmarks();
        benchmark::Shutdown();
        return 0;
}
