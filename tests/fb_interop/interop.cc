// interop.cc - the C++ side of the FlatBuffers interop test (run.sh), built
// from the code flatc generates for interop.fbs (`sluice schema
// interop.sql`), with the FlatBuffers library's own builder and Verifier.
//
//   fb_interop write N OUT.fb OUT.ndjson
//       N `readings` records built with the generated builder and written
//       with FinishSizePrefixed, and the same records as NDJSON for the
//       JSON twin of the pipeline.  Absent fields (NULL) in every column,
//       edge values, strings with escapes and UTF-8; about 1 in 200 records
//       is damaged in both files.
//   fb_interop read per_sensor|passed FILE.fb
//       Every frame of sluice's output must pass flatc's Verifier twice:
//       as a size-prefixed buffer (file mode) and as the bare buffer after
//       sluice's 8-byte frame head (what a Kafka message value holds); both
//       must reach the same table.  Each row is printed as a JSON line,
//       fields in SELECT order, absent fields as null, for run.sh to
//       compare with the JSON-mode run.
//   fb_interop read-kafka per_sensor|passed FILE
//       The same for Kafka message values as `kcat -f '%R%s'` writes them
//       (a big-endian length, then the value): each must be one bare
//       buffer that flatc's Verifier accepts.
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "interop_generated.h"

namespace {

uint64_t rng = 0x243F6A8885A308D3ull;

uint64_t next()
{
        uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
}

bool chance(unsigned percent)
{
        return next() % 100 < percent;
}

void json_string(std::string &o, const std::string &s)
{
        o += '"';
        for (unsigned char c : s) {
                if (c == '"' || c == '\\') {
                        o += '\\';
                        o += (char)c;
                } else if (c < 0x20) {
                        char e[8];
                        snprintf(e, sizeof e, "\\u%04x", c);
                        o += e;
                } else {
                        o += (char)c;
                }
        }
        o += '"';
}

void json_double(std::string &o, double d)
{
        if (!std::isfinite(d)) { // sluice writes NaN and infinities as null
                o += "null";
                return;
        }
        char b[40];
        snprintf(b, sizeof b, "%.17g", d);
        o += b;
        if (!strpbrk(b, ".e")) // a double stays a JSON double: 2.0, not 2
                o += ".0";
}

void json_int(std::string &o, int64_t v)
{
        o += std::to_string(v);
}

struct member {
        std::string &o;
        bool first = true;
        void key(const char *k)
        {
                o += first ? "{\"" : ",\"";
                o += k;
                o += "\":";
                first = false;
        }
};

int write(long n, const char *fb_path, const char *json_path)
{
        FILE *fb = fopen(fb_path, "wb"), *js = fopen(json_path, "w");
        if (!fb || !js) {
                perror("fb_interop write");
                return 1;
        }
        static const char *const notes[] = {"", "plain", "with \"quotes\" and \\", "tab\there",
                                            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8c\x8a", "line\nbreak"};
        static const int32_t sites[] = {0, 1, 2, 3, -1, INT32_MIN, INT32_MAX};
        flatbuffers::FlatBufferBuilder fbb;
        int64_t ts0 = 1700000000000;
        for (long i = 0; i < n; i++) {
                std::string line;
                if (chance(1) && next() % 2) { // damaged in both: bytes that are no FlatBuffer
                        const char junk[] = "\x05\x00\x00\x00junk!";
                        uint32_t len = sizeof junk - 1;
                        fwrite(&len, 4, 1, fb);
                        fwrite(junk, 1, len, fb);
                        fputs("{\"sensor\":\"x\",\n", js); // cut short
                        continue;
                }
                bool has_sensor = !chance(3), has_site = !chance(10), has_value = !chance(15);
                bool has_ok = !chance(10), has_seq = !chance(5), has_note = chance(40), has_ts = !chance(1);
                std::string sensor = next() % 10 == 0 ? "capteur-\xc3\xa9-" : "sensor-";
                sensor += std::to_string(next() % 40);
                int32_t site = sites[next() % 7 % (next() % 4 ? 4 : 7)];
                double value;
                switch (next() % 4) {
                case 0: value = (double)(int64_t)(next() % 4001 - 2000) / 8.0; break;
                case 1: value = (double)(i % 1000) * 0.1; break;
                case 2: value = 0.0; break;
                default: value = std::ldexp((double)(next() >> 11), -(int)(next() % 60)) * (next() % 2 ? 1 : -1);
                }
                bool ok = next() % 2;
                int64_t seq = next() % 50 == 0 ? (int64_t)(next() >> 1) * (next() % 2 ? 1 : -1) : i;
                std::string note = notes[next() % 6];
                int64_t ts = ts0 + i * 37 - (int64_t)(next() % 3000);

                fbb.Clear();
                auto s_off = has_sensor ? fbb.CreateString(sensor) : 0;
                auto n_off = has_note ? fbb.CreateString(note) : 0;
                sluice::readingsBuilder b(fbb);
                if (has_sensor)
                        b.add_sensor(s_off);
                if (has_site)
                        b.add_site(site);
                if (has_value)
                        b.add_value(value);
                if (has_ok)
                        b.add_ok(ok);
                if (has_seq)
                        b.add_seq(seq);
                if (has_note)
                        b.add_note(n_off);
                if (has_ts)
                        b.add_ts(ts);
                fbb.FinishSizePrefixed(b.Finish());
                fwrite(fbb.GetBufferPointer(), 1, fbb.GetSize(), fb);

                // The JSON twin: absent members, or an explicit null now and then.
                member m{line};
                bool nulls = next() % 4 == 0;
                if (has_sensor) { m.key("sensor"); json_string(line, sensor); }
                else if (nulls) { m.key("sensor"); line += "null"; }
                if (has_site) { m.key("site"); json_int(line, site); }
                if (has_value) { m.key("value"); json_double(line, value); }
                else if (nulls) { m.key("value"); line += "null"; }
                if (has_ok) { m.key("ok"); line += ok ? "true" : "false"; }
                if (has_seq) { m.key("seq"); json_int(line, seq); }
                if (has_note) { m.key("note"); json_string(line, note); }
                else if (nulls) { m.key("note"); line += "null"; }
                if (has_ts) { m.key("ts"); json_int(line, ts); }
                if (m.first)
                        line += "{";
                line += "}\n";
                fputs(line.c_str(), js);
        }
        if (fclose(fb) != 0 || fclose(js) != 0) {
                perror("fb_interop write");
                return 1;
        }
        return 0;
}

template <typename T> void opt_int(std::string &o, member &m, const char *k, flatbuffers::Optional<T> v)
{
        m.key(k);
        if (v)
                json_int(o, (int64_t)*v);
        else
                o += "null";
}

void opt_double(std::string &o, member &m, const char *k, flatbuffers::Optional<double> v)
{
        m.key(k);
        if (v)
                json_double(o, *v);
        else
                o += "null";
}

void opt_bool(std::string &o, member &m, const char *k, flatbuffers::Optional<bool> v)
{
        m.key(k);
        o += v ? (*v ? "true" : "false") : "null";
}

void opt_string(std::string &o, member &m, const char *k, const flatbuffers::String *s)
{
        m.key(k);
        if (s)
                json_string(o, s->str());
        else
                o += "null";
}

std::string row(const sluice::per_sensor *r)
{
        std::string o;
        member m{o};
        opt_string(o, m, "sensor", r->sensor());
        opt_int(o, m, "site", r->site());
        opt_int(o, m, "n", r->n());
        opt_int(o, m, "nvalues", r->nvalues());
        opt_double(o, m, "total", r->total());
        opt_double(o, m, "mean", r->mean());
        opt_int(o, m, "first_seq", r->first_seq());
        opt_int(o, m, "last_seq", r->last_seq());
        opt_int(o, m, "ws", r->ws());
        opt_int(o, m, "we", r->we());
        return o + "}\n";
}

std::string row(const sluice::passed *r)
{
        std::string o;
        member m{o};
        opt_string(o, m, "sensor", r->sensor());
        opt_int(o, m, "site", r->site());
        opt_bool(o, m, "ok", r->ok());
        opt_double(o, m, "doubled", r->doubled());
        opt_int(o, m, "seq", r->seq());
        opt_string(o, m, "note", r->note());
        opt_int(o, m, "ts", r->ts());
        opt_bool(o, m, "third", r->third());
        return o + "}\n";
}

template <typename T> int read(const char *path)
{
        FILE *f = fopen(path, "rb");
        if (!f) {
                perror(path);
                return 1;
        }
        std::vector<unsigned char> all;
        unsigned char chunk[65536];
        size_t k;
        while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
                all.insert(all.end(), chunk, chunk + k);
        fclose(f);
        size_t off = 0, rows = 0;
        std::vector<uint64_t> aligned; // frames are checked from 8-aligned memory
        while (off < all.size()) {
                if (all.size() - off < 4) {
                        fprintf(stderr, "%s: trailing %zu bytes\n", path, all.size() - off);
                        return 1;
                }
                uint32_t len = flatbuffers::ReadScalar<uint32_t>(&all[off]);
                if (len > all.size() - off - 4 || len < 4) {
                        fprintf(stderr, "%s: frame at %zu: bad length %u\n", path, off, len);
                        return 1;
                }
                aligned.assign((4 + len + 7) / 8, 0);
                auto *p = reinterpret_cast<uint8_t *>(aligned.data());
                memcpy(p, &all[off], 4 + len);
                flatbuffers::Verifier prefixed(p, 4 + len);
                flatbuffers::Verifier bare(p + 8, len - 4);
                if (!prefixed.VerifySizePrefixedBuffer<T>(nullptr) || !bare.VerifyBuffer<T>(nullptr)) {
                        fprintf(stderr, "%s: frame at %zu does not verify\n", path, off);
                        return 1;
                }
                const T *a = flatbuffers::GetSizePrefixedRoot<T>(p);
                const T *b = flatbuffers::GetRoot<T>(p + 8);
                if (a != b) {
                        fprintf(stderr, "%s: frame at %zu: the two views reach different tables\n", path, off);
                        return 1;
                }
                fputs(row(a).c_str(), stdout);
                off += 4 + len;
                rows++;
        }
        fprintf(stderr, "fb_interop: %s: %zu rows verified\n", path, rows);
        return 0;
}

template <typename T> int read_kafka(const char *path)
{
        FILE *f = fopen(path, "rb");
        if (!f) {
                perror(path);
                return 1;
        }
        size_t rows = 0;
        std::vector<uint64_t> aligned;
        unsigned char h[4];
        while (fread(h, 1, 4, f) == 4) {
                uint32_t len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
                aligned.assign(len / 8 + 1, 0);
                auto *p = reinterpret_cast<uint8_t *>(aligned.data());
                if (len > (1u << 30) || fread(p, 1, len, f) != len) {
                        fprintf(stderr, "%s: message %zu: bad length %u\n", path, rows, len);
                        return 1;
                }
                flatbuffers::Verifier v(p, len);
                if (!v.VerifyBuffer<T>(nullptr)) {
                        fprintf(stderr, "%s: message %zu does not verify\n", path, rows);
                        return 1;
                }
                fputs(row(flatbuffers::GetRoot<T>(p)).c_str(), stdout);
                rows++;
        }
        fclose(f);
        fprintf(stderr, "fb_interop: %s: %zu messages verified\n", path, rows);
        return 0;
}

} // namespace

int main(int argc, char **argv)
{
        if (argc == 5 && strcmp(argv[1], "write") == 0)
                return write(atol(argv[2]), argv[3], argv[4]);
        if (argc == 4 && strcmp(argv[1], "read") == 0 && strcmp(argv[2], "per_sensor") == 0)
                return read<sluice::per_sensor>(argv[3]);
        if (argc == 4 && strcmp(argv[1], "read") == 0 && strcmp(argv[2], "passed") == 0)
                return read<sluice::passed>(argv[3]);
        if (argc == 4 && strcmp(argv[1], "read-kafka") == 0 && strcmp(argv[2], "per_sensor") == 0)
                return read_kafka<sluice::per_sensor>(argv[3]);
        if (argc == 4 && strcmp(argv[1], "read-kafka") == 0 && strcmp(argv[2], "passed") == 0)
                return read_kafka<sluice::passed>(argv[3]);
        fprintf(stderr, "usage: fb_interop write N OUT.fb OUT.ndjson | read[-kafka] per_sensor|passed FILE\n");
        return 2;
}
