/*
 * test_eos_sim.c - deterministic simulation of exactly-once processing
 * (DESIGN.md, "Exactly-once"; KAFKA_MOCK.md, "What follows for
 * exactly-once"), and cmocka tests of engine/committer.c alone.
 *
 * The code under test is the engine's: sl_part (per-partition processing
 * with replay suppression) and sl_committer (the transaction protocol),
 * driven the way engine/kafka_run.c's Kafka thread drives them, against an
 * in-process model of Kafka's transactional semantics behind struct
 * sl_txn_ops.  Everything is single-threaded and a function of the seed.
 *
 * The model: an input topic of 1..4 partitions generated from the seed
 * (keys from a small set, each key in one partition as the default
 * partitioner does; event times with disorder and late records; malformed
 * JSON, null fields, tombstones, records without a message key), and an
 * output log where every produced message carries its producer epoch and
 * transaction.  A transaction's messages become visible when, and only
 * when, it commits; an abort discards them; offsets sent with it become
 * the group's committed offsets atomically with the commit.  Starting an
 * instance is InitProducerId: epoch + 1, the previous epoch's open
 * transaction aborted, every later call from an older epoch fenced
 * (SL_TXN_FATAL).  Faults are drawn per call: retriable errors (and bursts
 * of them, longer than the committer's retry budget), abortable errors,
 * fatal errors, commits whose reply is lost (committed on the broker,
 * SL_TXN_RETRY to the client; the retried commit answers OK and commits
 * nothing twice), and deaths inside a produce or a commit (the broker did
 * the work, the process is gone).  Aborting a transaction that already
 * committed (after a lost reply) is INVALID_TXN_STATE, fatal, as on Kafka.
 *
 * The driver: an instance is a committer plus one sl_part per input
 * partition sharing one struct sl_outq; rows are drained synchronously
 * after every step into sl_committer_row.  Steps drawn from the seed: feed
 * the next k records of a partition, commit (cut, drain, sometimes read
 * more records whose rows stay queued behind the cut, commit, then produce
 * those rows), crash the instance (anywhere: with a transaction open and
 * rows produced), or
 * start a new instance while the old one lives on as a zombie that keeps
 * feeding and committing until the model fences it.  After an abortable
 * failure the instance rewinds (sl_committer_rewind, every part reset to
 * replay from offset 0 with rows suppressed below its committed offset),
 * either at once or, like kafka_run.c, by discarding rows until the next
 * commit.  At the end faults stop, everything is fed and committed.
 *
 * What is checked, per seed, against the committed view of a run of the
 * same input with one instance, no faults and commits at random points:
 *   - at every commit, the transaction holds exactly the reference rows
 *     caused by the input offsets it commits, per source partition, in
 *     order (rows caused by offset x travel in the transaction that
 *     commits past x), and committed offsets never go backwards;
 *   - at the end, the committed view equals the reference as a multiset of
 *     (topic, key, value, timestamp), per (topic, key) in the same order,
 *     per source partition in the same order; and the committed offsets
 *     are the partition ends.
 * Rows without a message key are grouped by (topic, source partition)
 * instead of (topic, key), as their relative order across partitions is
 * not defined.  At-least-once runs the same driver on ops where begin and
 * abort are no-ops, rows are delivered at produce time (a failed produce
 * may have been delivered too) and the offset commit is fenced by the
 * group generation: every reference row must be delivered, and per group
 * the reference sequence must be a subsequence of what was delivered
 * (duplicates allowed).
 *
 * Checkpoints (DESIGN.md, "Checkpoints"; issue P1.3), a third run: the
 * same driver and checks with a model disk that survives crashes.  Per
 * partition it holds snapshot files (bytes, named by offset), temporaries
 * and a MANIFEST (the published names, newest first).  A snapshot step
 * (random times, random partitions, as a worker's KB_SNAPSHOT) queues a
 * prune of what the committed offsets cover, then takes sl_part_save at
 * sl_part_next_offset, encodes it and queues the write on the instance's
 * writer, which makes progress at random steps: <name>.tmp written, renamed
 * to <name>, then MANIFEST rewritten from the *.snap present.  A crash in
 * the middle leaves a torn temporary (truncated or a flipped byte), or a
 * complete file not yet in the manifest, or a torn MANIFEST.tmp (the old
 * manifest stays); queued writes die with the process.  A crash may also
 * damage a published file (a disk that lied about fsync: truncated, or a
 * flipped byte) or the MANIFEST itself.  Retention (a prune job, queued
 * after commits and before snapshots, as kafka_run.c's poll_checkpoints):
 * once a snapshot with offset <= committed checks out (header and size),
 * the older ones are unlinked, then MANIFEST rewritten; a crash may cut it
 * between the unlinks.  Restore, at a start and at every rewind after an
 * abort, as kafka_run.c's on_assign and rewind_all: sl_part_reset(pt,
 * committed), then the newest snapshot with offset <= committed (from
 * MANIFEST; from the *.snap present when MANIFEST is damaged or names a
 * missing file) that decodes is loaded with sl_part_load and input is read
 * from its offset, rows suppressed below the committed offset; skipped
 * files are counted; none usable: replay from offset 0.  Crash points,
 * drawn per seed: between steps, during processing (records handed to the
 * partitions, their rows not produced), in the middle of a snapshot write
 * or of a prune, between produce and commit, between commit and the next
 * snapshot, and right after a restore.  On top of the checks above: a
 * checksummed snapshot that sl_part_load refuses fails the seed, a
 * snapshot's offset must be the offset after the records its state holds,
 * a truncated payload must be refused by sl_part_load, and at the end a
 * clean stop (a snapshot of every partition, the writer finished) must let
 * the next start restore every partition at its committed offset with
 * nothing to replay.  The files' bytes are engine/snapshot.c's
 * (sl_snap_encode, sl_snap_decode with the plan's hash); the directory,
 * the writer thread and the loader are modelled here, after snapshot.c.
 *
 * Environment: SL_SIM_SEEDS (seeds of the exactly-once run and of the
 * checkpoint run; the at-least-once runs take a quarter as many),
 * SL_SIM_SEED (run only this one), SL_SIM_TRACE=1 (print every step of
 * the runs to stderr), SL_SIM_SNAP_LABEL (fed or part: what to do with a
 * snapshot whose sl_part_next_offset is not the offset fed, instead of
 * failing; see take_snapshot).  A failure prints the seed, its
 * configuration and the last steps; the totals of the faults exercised
 * are printed at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <xxhash.h>

#include "engine/batch.h"
#include "engine/buf.h"
#include "engine/committer.h"
#include "engine/part.h"
#include "engine/plan.h"
#include "engine/ring.h"
#include "engine/snapshot.h"

#define MAXP 4
#define TRACE_LINES 64
#define TRACE_LEN 200

/* Default seed counts: the whole program stays within ~25 s on a release
 * build on a 2-core machine under meson test (whose MALLOC_PERTURB_ makes
 * every sl_part_new and sl_part_reset cost more; about 11 s exactly-once,
 * 3.5 s at-least-once, 8.5 s with checkpoints; some 15 s run directly);
 * sanitizer and unoptimised builds run fewer. */
#if defined(__SANITIZE_ADDRESS__)
#define SLOW_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SLOW_BUILD 1
#endif
#endif
#if !defined(SLOW_BUILD) && !defined(__OPTIMIZE__)
#define SLOW_BUILD 1
#endif
#ifdef SLOW_BUILD
#define DEFAULT_SEEDS 500
#define DEFAULT_CKPT_SEEDS 500
#else
#define DEFAULT_SEEDS 2000
#define DEFAULT_CKPT_SEEDS 1000
#endif

/* ---- random numbers --------------------------------------------------- */

struct rng {
        uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
        uint64_t z = (r->s += 0x9e3779b97f4a7c15ull); /* splitmix64 */
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static uint32_t below(struct rng *r, uint32_t n)
{
        return (uint32_t)(((rnd(r) >> 32) * n) >> 32);
}

/* True with probability ppm / 1e6. */
static bool chance(struct rng *r, uint32_t ppm)
{
        return below(r, 1000000) < ppm;
}

/* ---- input ------------------------------------------------------------ */

struct rec {
        int64_t msg_ts;
        size_t koff, voff; /* in input.text */
        uint32_t klen, vlen;
        bool has_key, has_val;
};

struct input {
        uint32_t np, nkeys;
        struct rec *recs[MAXP];
        uint32_t n[MAXP];
        uint32_t cap[MAXP];
        uint64_t total;
        struct sl_buf text;
        char sql[2048];
        struct sl_plan *plan;
};

static void add_rec(struct input *in, uint32_t p, const char *key, const char *val,
                    int64_t msg_ts)
{
        if (in->n[p] == in->cap[p]) {
                in->cap[p] = in->cap[p] ? 2 * in->cap[p] : 256;
                in->recs[p] = realloc(in->recs[p], in->cap[p] * sizeof *in->recs[p]);
                assert_non_null(in->recs[p]);
        }
        struct rec *r = &in->recs[p][in->n[p]++];
        *r = (struct rec){.msg_ts = msg_ts, .has_key = key != NULL, .has_val = val != NULL};
        if (key) {
                r->koff = in->text.len;
                r->klen = (uint32_t)strlen(key);
                sl_buf_add(&in->text, key, r->klen);
        }
        if (val) {
                r->voff = in->text.len;
                r->vlen = (uint32_t)strlen(val);
                sl_buf_add(&in->text, val, r->vlen);
        }
        assert_true(sl_buf_ok(&in->text));
        in->total++;
}

/*
 * The pipeline: a TUMBLING EMIT FINAL AVG/COUNT with GRACE, a HOPPING EMIT
 * CHANGES SUM with a WHERE, and a filtering projection, window sizes drawn
 * from the seed.
 */
static void make_sql(struct input *in, struct rng *r)
{
        static const int tsize[] = {20, 50, 100, 250};
        static const int tgrace[] = {0, 10, 50, 200};
        static const int hsize[] = {40, 100, 200};
        static const int hdiv[] = {1, 2, 4};
        int ts = tsize[below(r, 4)], tg = tgrace[below(r, 4)];
        int hs = hsize[below(r, 3)], ha = hs / hdiv[below(r, 3)];
        int hg = tgrace[below(r, 4)];
        int big = 100 + 100 * (int)below(r, 3);
        snprintf(in->sql, sizeof in->sql,
                 "CREATE STREAM tx (userId STRING KEY, amount DOUBLE, ts BIGINT)\n"
                 "  WITH (KAFKA_TOPIC = 'tx', VALUE_FORMAT = 'JSON', TIMESTAMP = 'ts');\n"
                 "CREATE TABLE avg_final WITH (KAFKA_TOPIC = 'avg-final') AS\n"
                 "  SELECT userId, AVG(amount) AS avg_amount, COUNT(*) AS n,\n"
                 "         WINDOWSTART AS ws, WINDOWEND AS we\n"
                 "  FROM tx WINDOW TUMBLING (SIZE %d MILLISECONDS, GRACE PERIOD %d MILLISECONDS)\n"
                 "  GROUP BY userId EMIT FINAL;\n"
                 "CREATE TABLE sum_changes WITH (KAFKA_TOPIC = 'sum-changes') AS\n"
                 "  SELECT userId, SUM(amount) AS total, COUNT(*) AS n, WINDOWSTART AS ws\n"
                 "  FROM tx WINDOW HOPPING (SIZE %d MILLISECONDS, ADVANCE BY %d MILLISECONDS,\n"
                 "                         GRACE PERIOD %d MILLISECONDS)\n"
                 "  WHERE amount > 0 GROUP BY userId EMIT CHANGES;\n"
                 "CREATE STREAM big WITH (KAFKA_TOPIC = 'big') AS\n"
                 "  SELECT userId, amount, ts FROM tx WHERE amount >= %d;\n",
                 ts, tg, hs, ha, hg, big);
}

static void make_input(struct input *in, uint64_t seed)
{
        struct rng r = {seed * 0x2545f4914f6cdd1dull + 1};
        memset(in, 0, sizeof *in);
        in->np = 1 + below(&r, MAXP);
        in->nkeys = in->np + below(&r, 8);
        make_sql(in, &r);
        char err[512];
        in->plan = sl_plan_load_string(in->sql, strlen(in->sql), "sim.sql", err, sizeof err);
        if (!in->plan)
                fail_msg("plan: %s\n%s", err, in->sql);

        uint32_t n = 100 + (below(&r, 5) == 0 ? below(&r, 3000) : below(&r, 600));
        uint32_t late_ppm = below(&r, 4) * 30000;
        int64_t t = 1000 + below(&r, 1000);
        char key[16], val[160];
        for (uint32_t i = 0; i < n; i++) {
                uint32_t k = below(&r, in->nkeys);
                uint32_t p = k % in->np; /* one partition per key */
                snprintf(key, sizeof key, "u%u", k);
                t += below(&r, 3) == 0 ? 0 : below(&r, 25);
                int64_t ts = t - below(&r, 5);
                if (chance(&r, late_ppm))
                        ts = t - below(&r, 600);
                int amt = (int)below(&r, 2000) - 400; /* quarters: -100.00 .. 399.75 */
                char amount[32];
                snprintf(amount, sizeof amount, "%d.%02d", amt / 4, (amt < 0 ? -amt : amt) % 4 * 25);
                if (amt < 0 && amt / 4 == 0)
                        snprintf(amount, sizeof amount, "-0.%02d", (-amt) % 4 * 25);
                const char *kp = key;
                const char *vp = val;
                uint32_t kind = below(&r, 100);
                if (kind < 2) {
                        vp = NULL; /* tombstone */
                } else if (kind < 4) {
                        static const char *const bad[] = {
                                "{\"userId\":\"u1\",\"amount\":", "not json", "[1,2,3]",
                                "{\"amount\":\"many\",\"ts\":5}", "{\"amount\":1.5,\"ts\":\"later\"}",
                                "", "{\"amount\":2,\"ts\":12}}",
                        };
                        snprintf(val, sizeof val, "%s", bad[below(&r, 7)]);
                } else if (kind < 6) {
                        snprintf(val, sizeof val, "{\"amount\":null,\"ts\":%lld}", (long long)ts);
                } else if (kind < 7) {
                        snprintf(val, sizeof val, "{\"amount\":%s}", amount); /* no ts */
                } else if (kind < 10) {
                        /* no message key: the value names the user */
                        kp = NULL;
                        snprintf(val, sizeof val, "{\"ts\":%lld,\"userId\":\"%s\",\"amount\":%s}",
                                 (long long)ts, key, amount);
                } else if (kind < 11) {
                        kp = NULL; /* no key at all: null group key */
                        snprintf(val, sizeof val, "{\"amount\":%s,\"ts\":%lld}", amount,
                                 (long long)ts);
                } else if (kind < 30) {
                        snprintf(val, sizeof val, "{\"userId\":\"%s\",\"amount\":%s,\"ts\":%lld}",
                                 key, amount, (long long)ts);
                } else {
                        snprintf(val, sizeof val, "{\"amount\":%s,\"ts\":%lld}", amount,
                                 (long long)ts);
                }
                add_rec(in, p, kp, vp, t);
        }
}

static void free_input(struct input *in)
{
        for (uint32_t p = 0; p < MAXP; p++)
                free(in->recs[p]);
        sl_buf_free(&in->text);
        sl_plan_free(in->plan);
}

/* ---- counters --------------------------------------------------------- */

/* Where a checkpoint run may crash (besides between steps). */
enum cpoint { CP_PROCESS, CP_SNAP_WRITE, CP_PRUNE, CP_PRODUCED, CP_COMMITTED, CP_RESTORED,
              CP_N };

static const char *const cp_name[CP_N] = {
        "during processing", "in a snapshot write", "in a prune",
        "between produce and commit", "between commit and the next snapshot",
        "right after a restore",
};

struct counts {
        uint64_t seeds;
        uint64_t records;       /* handed to sl_part_record, replays included */
        uint64_t instances;
        uint64_t crashes;       /* instances dropped between steps */
        uint64_t deaths;        /* instances dead inside a produce or commit */
        uint64_t fatal_restarts;/* instances stopped by SL_TXN_FATAL */
        uint64_t zombies;
        uint64_t zombies_fenced;/* zombies that got SL_TXN_FATAL */
        uint64_t fenced_calls;  /* calls from an older epoch */
        uint64_t fenced_txns;   /* open transactions aborted by a new epoch */
        uint64_t retries;       /* retriable errors injected */
        uint64_t bursts;        /* runs of retriable errors */
        uint64_t exhausted;     /* retry budgets exhausted */
        uint64_t aborts;        /* abortable errors injected */
        uint64_t fatals;        /* fatal errors injected */
        uint64_t lost;          /* commits whose reply was lost */
        uint64_t lost_ok;       /* ... whose retry answered OK */
        uint64_t invalid_abort; /* abort of a transaction that had committed */
        uint64_t rewinds;
        uint64_t deferred;      /* rewinds deferred to the next commit */
        uint64_t commits;       /* transactions committed */
        uint64_t txn_aborted;   /* transactions aborted by the committer */
        uint64_t rows;          /* rows accepted by produce */
        uint64_t visible;       /* rows in the final committed view */
        /* recovery (every run) */
        uint64_t restores;      /* partitions restored with a committed offset > 0 */
        uint64_t from_snap;     /* ... from a snapshot */
        uint64_t from_zero;     /* ... by replay from offset 0 */
        uint64_t replayed;      /* records to replay below committed offsets */
        uint64_t saved;         /* records not replayed thanks to a snapshot */
        /* checkpoints */
        uint64_t cp[CP_N];      /* crashes at each point */
        uint64_t snaps;         /* snapshots taken */
        uint64_t snap_bytes;
        uint64_t published;     /* writes that reached the manifest */
        uint64_t torn;          /* writes cut by a crash: a torn temporary */
        uint64_t unpublished;   /* ... renamed, the manifest not rewritten */
        uint64_t man_torn;      /* ... MANIFEST.tmp torn, the old manifest kept */
        uint64_t lost_jobs;     /* queued writes and prunes gone with the process */
        uint64_t damaged;       /* published files damaged at a crash */
        uint64_t man_damaged;   /* MANIFESTs damaged at a crash */
        uint64_t man_fallback;  /* restores that listed the *.snap files */
        uint64_t skipped;       /* snapshots skipped at a restore (corrupt, truncated) */
        uint64_t pruned;        /* files removed by retention */
        uint64_t prune_cut;     /* prunes cut by a crash */
        uint64_t resave_same;   /* sl_part_save after sl_part_load gave the same bytes */
        uint64_t resave_diff;
        uint64_t trunc_refused; /* truncated payloads refused by sl_part_load */
        uint64_t clean_restarts;/* restarts after a clean stop, nothing replayed */
        uint64_t label_wrong;   /* sl_part_next_offset != the offset fed (SL_SIM_SNAP_LABEL) */
};

static struct counts total_eos, total_alo, total_ckpt, total_ckpt_alo;

/*
 * A snapshot is labelled with sl_part_next_offset, as kafka_run.c's
 * take_snapshots does, which must be the offset after the records fed.
 * When it is not, SL_SIM_SNAP_LABEL says what happens: unset, the seed
 * fails; "fed": the snapshot is labelled with the offset fed (counted);
 * "part": it keeps sl_part_next_offset's label (counted), to see what
 * that does to the committed view.
 */
enum { LABEL_STRICT, LABEL_FED, LABEL_PART };
static int label_mode;

static void counts_add(struct counts *t, const struct counts *c)
{
        const uint64_t *s = (const uint64_t *)c;
        uint64_t *d = (uint64_t *)t;
        for (size_t i = 0; i < sizeof *c / sizeof(uint64_t); i++)
                d[i] += s[i];
}

/* ---- the model of Kafka ----------------------------------------------- */

enum tstate { T_OPEN, T_COMMITTED, T_ABORTED };

struct txn {
        uint32_t epoch;
        enum tstate state;
        bool doomed;          /* an abortable error happened: abort is all that is left */
        int64_t offs[MAXP];   /* sent with the transaction; -1: not sent */
        size_t first_msg;     /* log index at begin */
};

struct msg {
        uint32_t query;       /* stands for the topic: every query has its own */
        const char *topic;
        size_t koff, voff;    /* in model.text */
        uint32_t klen, vlen;
        bool has_key;
        int64_t ts;
        int32_t part;         /* harness tags: the source partition and the */
        int64_t off;          /* input offset that caused the row */
        uint32_t epoch;
        int32_t txn;          /* -1: at-least-once delivery */
};

struct faults {
        bool on;
        /* ppm per call */
        uint32_t retry, abort, fatal;          /* begin, send_offsets, commit, abort */
        uint32_t p_retry, p_abort, p_fatal, p_die; /* produce */
        uint32_t lost, die;                    /* commit */
        uint32_t outage;                       /* a burst of retriable errors starts */
        uint32_t burst;                        /* calls left in the burst */
};

struct model {
        bool eos;
        uint32_t np;
        uint32_t epoch;        /* of the newest producer */
        int64_t committed[MAXP]; /* the group's committed offsets; -1: none */
        int32_t open;          /* the newest epoch's open transaction, -1 */
        int32_t last;          /* the newest epoch's last transaction, -1 */
        bool reply_lost;       /* last committed, its commit reply lost */
        struct msg *log;
        size_t nlog, caplog;
        struct txn *txns;
        size_t ntxns, captxns;
        struct sl_buf text;
        struct faults f;
        char err[160];
};

static void model_init(struct model *m, bool eos, uint32_t np)
{
        memset(m, 0, sizeof *m);
        m->eos = eos;
        m->np = np;
        m->open = m->last = -1;
        for (uint32_t p = 0; p < MAXP; p++)
                m->committed[p] = -1;
}

static void model_free(struct model *m)
{
        free(m->log);
        free(m->txns);
        sl_buf_free(&m->text);
}

/* ---- the model disk (checkpoints) ------------------------------------- */

/*
 * The snapshot bytes: engine/snapshot.c's format (sl_snap_encode,
 * sl_snap_decode), topic "tx", the plan's hash.  Retention reads only the
 * header and the size, as sl_ckpt_prune does: parsed here from the layout
 * documented in snapshot.h.
 */
#define SNAP_TOPIC "tx"

static void snap_encode(const struct sl_plan *plan, int32_t part, int64_t off, int64_t st,
                        uint64_t entries, const void *pl, size_t len, struct sl_buf *out)
{
        struct sl_snap_meta m = {.hash = plan->hash, .partition = part, .offset = off,
                                 .stream_time = st, .entries = entries};
        snprintf(m.topic, sizeof m.topic, "%s", SNAP_TOPIC);
        assert_int_equal(sl_snap_encode(&m, pl, len, out), 0);
}

static uint64_t le(const uint8_t *p, int n)
{
        uint64_t v = 0;
        for (int i = n - 1; i >= 0; i--)
                v = v << 8 | p[i];
        return v;
}

/* Header and size check out: magic, version, the offset the name says,
 * header + payload length + checksum = the file's size. */
static bool snap_header_ok(const uint8_t *b, size_t len, int64_t name)
{
        const size_t fixed = 8 + 4 + 8 + 4 + 2; /* up to the topic */
        if (len < fixed || memcmp(b, SL_SNAP_MAGIC, 8) != 0 || le(b + 8, 4) != SL_SNAP_VERSION)
                return false;
        size_t tlen = (size_t)le(b + 24, 2), h = fixed + tlen + 8 + 8 + 8 + 8;
        if (len < h)
                return false;
        uint64_t off = le(b + fixed + tlen, 8), plen = le(b + fixed + tlen + 24, 8);
        return (int64_t)off == name && plen <= len - h && len - h - plen == 8;
}

/* NULL, or why the file is not a valid snapshot of partition part at
 * offset name (why: room for the decoder's reason). */
static const char *snap_decode(const struct sl_plan *plan, const uint8_t *b, size_t len,
                               int32_t part, int64_t name, const uint8_t **pl, size_t *plen,
                               char *why, size_t whylen)
{
        struct sl_snap_meta m;
        const void *payload;
        if (sl_snap_decode(b, len, plan->hash, &m, &payload, why, whylen) != 0)
                return why;
        if (m.partition != part || m.offset != name || strcmp(m.topic, SNAP_TOPIC) != 0)
                return "another partition or offset than its name";
        *pl = payload;
        *plen = m.payload_len;
        return NULL;
}

/* A file of a partition's directory: <offset>.snap, or <offset>.snap.tmp. */
struct sfile {
        int64_t off;
        bool tmp;
        uint8_t *b;
        size_t len;
};

struct pdisk {
        struct sfile *f;
        uint32_t n, cap;
        int64_t *man;         /* MANIFEST: offsets, newest first */
        uint32_t nman, capman;
        bool man_exists;      /* written once */
        bool man_bad;         /* MANIFEST damaged: the loader lists the files */
};

static int find_file(const struct pdisk *d, int64_t off, bool tmp)
{
        for (uint32_t i = 0; i < d->n; i++)
                if (d->f[i].off == off && d->f[i].tmp == tmp)
                        return (int)i;
        return -1;
}

static void put_file(struct pdisk *d, int64_t off, bool tmp, const void *b, size_t len)
{
        int i = find_file(d, off, tmp);
        if (i < 0) {
                if (d->n == d->cap) {
                        d->cap = d->cap ? 2 * d->cap : 8;
                        d->f = realloc(d->f, d->cap * sizeof *d->f);
                        assert_non_null(d->f);
                }
                i = (int)d->n++;
                d->f[i] = (struct sfile){.off = off, .tmp = tmp};
        }
        free(d->f[i].b);
        d->f[i].b = malloc(len ? len : 1);
        assert_non_null(d->f[i].b);
        memcpy(d->f[i].b, b, len);
        d->f[i].len = len;
}

static void unlink_file(struct pdisk *d, uint32_t i)
{
        free(d->f[i].b);
        d->f[i] = d->f[--d->n];
}

static int cmp_off_desc(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return (x < y) - (x > y);
}

/* The *.snap present, newest first; returns how many. */
static uint32_t list_files(const struct pdisk *d, int64_t *out)
{
        uint32_t k = 0;
        for (uint32_t i = 0; i < d->n; i++)
                if (!d->f[i].tmp)
                        out[k++] = d->f[i].off;
        qsort(out, k, sizeof *out, cmp_off_desc);
        return k;
}

/* MANIFEST.tmp written from the *.snap present, renamed to MANIFEST. */
static void write_manifest(struct pdisk *d)
{
        if (d->capman < d->n) {
                d->capman = d->n;
                d->man = realloc(d->man, d->capman * sizeof *d->man);
                assert_non_null(d->man);
        }
        d->nman = list_files(d, d->man);
        d->man_exists = true;
        d->man_bad = false;
}

static void free_disk(struct pdisk *d)
{
        for (uint32_t i = 0; i < d->n; i++)
                free(d->f[i].b);
        free(d->f);
        free(d->man);
        memset(d, 0, sizeof *d);
}

/* A queued job of an instance's writer thread. */
struct job {
        bool prune;
        uint32_t p;
        int64_t off;          /* write: the snapshot's offset; prune: committed */
        struct sl_buf enc;    /* write: the encoded snapshot */
};

/* ---- the simulation ------------------------------------------------------ */

struct inst;

/* The reference run's committed rows of one source partition, in order. */
struct refpart {
        const struct msg **m;
        size_t n, cap;
};

struct sim {
        uint64_t seed;
        const char *name;
        struct input *in;
        struct model m;
        struct rng rng;
        const struct model *ref;       /* NULL in the reference run */
        struct refpart refp[MAXP];
        size_t cursor[MAXP];           /* reference rows committed so far */
        struct inst *cur, *zombie;
        uint32_t zombie_steps;
        uint32_t crash_ppm, zombie_ppm, commit_ppm;
        /* checkpoints */
        bool ckpt;
        uint32_t snap_ppm;             /* a snapshot step */
        uint32_t writer_ppm;           /* the writer does a job, per step */
        uint32_t cp_ppm[CP_N];         /* a crash, per pass through the point */
        uint32_t damage_ppm;           /* a published file damaged, per crash */
        struct pdisk disk[MAXP];
        uint64_t step;
        bool verbose;
        bool failed;
        char why[1024];
        char trace[TRACE_LINES][TRACE_LEN];
        uint64_t ntrace;
        struct counts cnt;
};

struct inst {
        struct sim *s;
        uint32_t epoch;
        uint32_t id;
        struct sl_committer c;
        struct sl_part *parts[MAXP];
        int cidx[MAXP];           /* committer index of each partition */
        int64_t pos[MAXP];        /* next offset to read */
        struct sl_ring ring;
        struct sl_outq oq;
        _Atomic bool stop;
        bool defer;               /* after a failed row: discard until the next commit */
        bool discard;
        int32_t tag_part;         /* the partition whose rows are drained */
        int64_t tag_off;
        int64_t pending[MAXP];    /* at-least-once: offsets to commit (client side) */
        bool pending_set;
        bool crashed;             /* killed at a crash point: to be dropped */
        int64_t restored[MAXP];   /* offset of the snapshot restored at start, -1 */
        struct job *jobs;         /* the writer's queue, oldest first */
        uint32_t njobs, capjobs;
};

static void trace(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void trace(struct sim *s, const char *fmt, ...)
{
        char *line = s->trace[s->ntrace++ % TRACE_LINES];
        int n = snprintf(line, TRACE_LEN, "%5llu ", (unsigned long long)s->step);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line + n, TRACE_LEN - (size_t)n, fmt, ap);
        va_end(ap);
        if (s->verbose)
                fprintf(stderr, "%s %s\n", s->name, line);
}

static void sim_fail(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sim_fail(struct sim *s, const char *fmt, ...)
{
        if (s->failed)
                return;
        s->failed = true;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->why, sizeof s->why, fmt, ap);
        va_end(ap);
        trace(s, "FAILED: %s", s->why);
}

/* ---- fault injection ---------------------------------------------------- */

enum call { K_BEGIN, K_PRODUCE, K_OFFSETS, K_COMMIT, K_ABORT };
enum fault { F_NONE, F_RETRY, F_ABORT, F_FATAL, F_LOST, F_DIE };

static const char *const call_name[] = {"begin", "produce", "send_offsets", "commit", "abort"};
static const char *const fault_name[] = {"-", "retriable", "abortable", "fatal",
                                         "reply lost", "death"};

static enum fault draw(struct sim *s, enum call k)
{
        struct faults *f = &s->m.f;
        if (!f->on)
                return F_NONE;
        enum fault x = F_NONE;
        if (f->burst) {
                f->burst--;
                x = F_RETRY;
        } else if (chance(&s->rng, f->outage)) {
                f->burst = below(&s->rng, 8);
                s->cnt.bursts++;
                x = F_RETRY;
        } else if (k == K_PRODUCE) {
                uint32_t r = below(&s->rng, 1000000);
                x = r < f->p_retry ? F_RETRY
                  : (r -= f->p_retry) < f->p_abort ? F_ABORT
                  : (r -= f->p_abort) < f->p_fatal ? F_FATAL
                  : (r -= f->p_fatal) < f->p_die ? F_DIE : F_NONE;
        } else {
                /* The retry of a commit that went through can only fail
                 * retriably or fatally. */
                bool full = k == K_COMMIT && !s->m.reply_lost;
                uint32_t lost = full ? f->lost : 0;
                uint32_t die = full ? f->die : 0;
                uint32_t abort = k == K_OFFSETS || full ? f->abort : 0;
                uint32_t r = below(&s->rng, 1000000);
                x = r < f->retry ? F_RETRY
                  : (r -= f->retry) < abort ? F_ABORT
                  : (r -= abort) < f->fatal ? F_FATAL
                  : (r -= f->fatal) < lost ? F_LOST
                  : (r -= lost) < die ? F_DIE : F_NONE;
        }
        switch (x) {
        case F_RETRY: s->cnt.retries++; break;
        case F_ABORT: s->cnt.aborts++; break;
        case F_FATAL: s->cnt.fatals++; break;
        case F_DIE: s->cnt.deaths++; break;
        default: break;
        }
        if (x != F_NONE && x != F_LOST)
                trace(s, "  inject %s into %s", fault_name[x], call_name[k]);
        return x;
}

static enum sl_txn_status say(struct model *m, enum sl_txn_status st, const char *what)
{
        snprintf(m->err, sizeof m->err, "%s", what);
        return st;
}

/* A protocol violation by the engine: fails the seed and stops the instance. */
static enum sl_txn_status violation(struct sim *s, const char *what)
{
        sim_fail(s, "Kafka model: %s", what);
        return say(&s->m, SL_TXN_FATAL, what);
}

static bool fenced(struct inst *in, enum call k)
{
        struct sim *s = in->s;
        if (in->epoch == s->m.epoch)
                return false;
        s->cnt.fenced_calls++;
        snprintf(s->m.err, sizeof s->m.err, "producer fenced (epoch %u, newest %u)",
                 in->epoch, s->m.epoch);
        trace(s, "  %s from epoch %u: fenced", call_name[k], in->epoch);
        return true;
}

static void append(struct inst *in, const struct sl_out_msg *om, int32_t txn)
{
        struct model *m = &in->s->m;
        if (m->nlog == m->caplog) {
                m->caplog = m->caplog ? 2 * m->caplog : 1024;
                m->log = realloc(m->log, m->caplog * sizeof *m->log);
                assert_non_null(m->log);
        }
        struct msg *g = &m->log[m->nlog++];
        *g = (struct msg){.query = om->query, .topic = om->topic, .has_key = om->key != NULL,
                          .klen = om->klen, .vlen = om->vlen, .ts = om->ts,
                          .part = in->tag_part, .off = in->tag_off, .epoch = in->epoch,
                          .txn = txn};
        g->koff = m->text.len;
        if (om->key)
                sl_buf_add(&m->text, om->key, om->klen);
        g->voff = m->text.len;
        sl_buf_add(&m->text, om->val, om->vlen);
        assert_true(sl_buf_ok(&m->text));
}

/* The group's offsets become the transaction's (exactly-once) or the
 * instance's pending ones (at-least-once). */
static bool apply_offsets(struct sim *s, const int64_t *offs)
{
        struct model *m = &s->m;
        for (uint32_t p = 0; p < m->np; p++) {
                if (offs[p] < 0)
                        continue;
                if (m->eos && offs[p] < m->committed[p]) {
                        sim_fail(s, "partition %u: committed offset goes back from %lld to %lld",
                                 p, (long long)m->committed[p], (long long)offs[p]);
                        return false;
                }
                m->committed[p] = offs[p];
        }
        return true;
}

static bool same_row(const struct model *a, const struct msg *x,
                     const struct model *b, const struct msg *y)
{
        return x->query == y->query && x->has_key == y->has_key &&
               x->klen == y->klen && x->vlen == y->vlen && x->ts == y->ts &&
               memcmp(a->text.p + x->koff, b->text.p + y->koff, x->klen) == 0 &&
               memcmp(a->text.p + x->voff, b->text.p + y->voff, x->vlen) == 0;
}

static void describe(char *out, size_t n, const struct model *m, const struct msg *g)
{
        snprintf(out, n, "[p%d@%lld %s %.*s %.*s ts %lld]", g->part, (long long)g->off,
                 g->topic, g->has_key ? (int)g->klen : 1, g->has_key ? m->text.p + g->koff : "-",
                 (int)g->vlen, m->text.p + g->voff, (long long)g->ts);
}

/*
 * Exactly-once, at the moment transaction t commits: its rows are, per
 * source partition and in order, the reference rows caused by the offsets
 * it commits, and no row caused by an offset it does not commit.
 */
static void check_txn(struct sim *s, int32_t t)
{
        struct model *m = &s->m;
        const struct txn *x = &m->txns[t];
        char a[400], b[400];
        for (size_t i = x->first_msg; i < m->nlog && !s->failed; i++) {
                const struct msg *g = &m->log[i];
                if (g->txn != t)
                        continue;
                struct refpart *rp = &s->refp[g->part];
                size_t *c = &s->cursor[g->part];
                if (g->off >= m->committed[g->part]) {
                        describe(a, sizeof a, m, g);
                        sim_fail(s, "transaction %d commits partition %d up to %lld but holds %s",
                                 t, g->part, (long long)m->committed[g->part], a);
                } else if (*c == rp->n || !same_row(m, g, s->ref, rp->m[*c]) ||
                           g->off != rp->m[*c]->off) {
                        describe(a, sizeof a, m, g);
                        if (*c < rp->n)
                                describe(b, sizeof b, s->ref, rp->m[*c]);
                        sim_fail(s, "transaction %d: committed row %s, reference row %zu of "
                                    "partition %d is %s", t, a, *c, g->part,
                                 *c < rp->n ? b : "(none: a row too many)");
                } else {
                        (*c)++;
                }
        }
        for (uint32_t p = 0; p < m->np && !s->failed; p++) {
                size_t c = s->cursor[p];
                if (c < s->refp[p].n && s->refp[p].m[c]->off < m->committed[p]) {
                        describe(a, sizeof a, s->ref, s->refp[p].m[c]);
                        sim_fail(s, "transaction %d commits partition %u up to %lld without "
                                    "reference row %zu %s", t, p,
                                 (long long)m->committed[p], c, a);
                }
        }
}

static void commit_txn(struct sim *s, int32_t t)
{
        struct model *m = &s->m;
        struct txn *x = &m->txns[t];
        if (!apply_offsets(s, x->offs))
                return;
        x->state = T_COMMITTED;
        m->open = -1;
        s->cnt.commits++;
        if (s->ref)
                check_txn(s, t);
}

/* InitProducerId (exactly-once) or a new group generation (at-least-once). */
static uint32_t model_new_producer(struct sim *s)
{
        struct model *m = &s->m;
        if (m->open >= 0) {
                m->txns[m->open].state = T_ABORTED;
                s->cnt.fenced_txns++;
                trace(s, "  init: open transaction %d of epoch %u aborted", m->open, m->epoch);
        }
        m->open = m->last = -1;
        m->reply_lost = false;
        return ++m->epoch;
}

static enum sl_txn_status eos_begin(void *ctx)
{
        struct inst *in = ctx;
        struct sim *s = in->s;
        struct model *m = &s->m;
        if (fenced(in, K_BEGIN))
                return SL_TXN_FATAL;
        switch (draw(s, K_BEGIN)) {
        case F_RETRY: return say(m, SL_TXN_RETRY, "coordinator not available");
        case F_FATAL: return say(m, SL_TXN_FATAL, "fatal (injected)");
        default: break;
        }
        if (m->open >= 0)
                return violation(s, "begin with a transaction open");
        if (m->ntxns == m->captxns) {
                m->captxns = m->captxns ? 2 * m->captxns : 64;
                m->txns = realloc(m->txns, m->captxns * sizeof *m->txns);
                assert_non_null(m->txns);
        }
        struct txn *x = &m->txns[m->ntxns];
        *x = (struct txn){.epoch = in->epoch, .state = T_OPEN, .first_msg = m->nlog};
        for (uint32_t p = 0; p < MAXP; p++)
                x->offs[p] = -1;
        m->open = m->last = (int32_t)m->ntxns++;
        m->reply_lost = false;
        return SL_TXN_OK;
}

static enum sl_txn_status eos_produce(void *ctx, const struct sl_out_msg *om)
{
        struct inst *in = ctx;
        struct sim *s = in->s;
        struct model *m = &s->m;
        if (fenced(in, K_PRODUCE))
                return SL_TXN_FATAL;
        enum fault f = draw(s, K_PRODUCE);
        if (f == F_RETRY)
                return say(m, SL_TXN_RETRY, "queue full");
        if (f == F_FATAL)
                return say(m, SL_TXN_FATAL, "fatal (injected)");
        if (m->open < 0)
                return violation(s, "produce outside a transaction");
        struct txn *x = &m->txns[m->open];
        if (x->doomed)
                return say(m, SL_TXN_ABORT, "transaction in abortable state");
        if (f == F_ABORT) {
                x->doomed = true;
                if (below(&s->rng, 2))
                        append(in, om, m->open); /* written, then failed: the abort removes it */
                return say(m, SL_TXN_ABORT, "produce failed (injected)");
        }
        append(in, om, m->open);
        s->cnt.rows++;
        if (f == F_DIE)
                return say(m, SL_TXN_FATAL, "died after produce");
        return SL_TXN_OK;
}

static enum sl_txn_status eos_send_offsets(void *ctx, const struct sl_offset *o, uint32_t n)
{
        struct inst *in = ctx;
        struct sim *s = in->s;
        struct model *m = &s->m;
        if (fenced(in, K_OFFSETS))
                return SL_TXN_FATAL;
        switch (draw(s, K_OFFSETS)) {
        case F_RETRY: return say(m, SL_TXN_RETRY, "coordinator load in progress");
        case F_FATAL: return say(m, SL_TXN_FATAL, "fatal (injected)");
        case F_ABORT:
                if (m->open >= 0)
                        m->txns[m->open].doomed = true;
                return say(m, SL_TXN_ABORT, "send offsets failed (injected)");
        default: break;
        }
        if (m->open < 0)
                return violation(s, "send_offsets outside a transaction");
        struct txn *x = &m->txns[m->open];
        if (x->doomed)
                return say(m, SL_TXN_ABORT, "transaction in abortable state");
        for (uint32_t i = 0; i < n; i++) {
                if (o[i].src != 0 || o[i].partition < 0 || (uint32_t)o[i].partition >= m->np ||
                    o[i].offset < 0 || o[i].offset > (int64_t)s->in->n[o[i].partition])
                        return violation(s, "send_offsets: no such partition or offset");
                x->offs[o[i].partition] = o[i].offset;
        }
        return SL_TXN_OK;
}

static enum sl_txn_status eos_commit(void *ctx)
{
        struct inst *in = ctx;
        struct sim *s = in->s;
        struct model *m = &s->m;
        if (fenced(in, K_COMMIT))
                return SL_TXN_FATAL;
        enum fault f = draw(s, K_COMMIT);
        if (m->open < 0 && m->reply_lost) {
                /* The retry of a commit that went through: EndTxn is
                 * idempotent; only a retriable or fatal error can come back. */
                if (f == F_RETRY)
                        return say(m, SL_TXN_RETRY, "request timed out");
                if (f == F_FATAL)
                        return say(m, SL_TXN_FATAL, "fatal (injected)");
                m->reply_lost = false;
                s->cnt.lost_ok++;
                trace(s, "  commit retried after a lost reply: ok, transaction %d committed once",
                      m->last);
                return SL_TXN_OK;
        }
        if (f == F_RETRY)
                return say(m, SL_TXN_RETRY, "request timed out");
        if (f == F_FATAL)
                return say(m, SL_TXN_FATAL, "fatal (injected)");
        if (m->open < 0)
                return violation(s, "commit outside a transaction");
        struct txn *x = &m->txns[m->open];
        if (x->doomed)
                return say(m, SL_TXN_ABORT, "transaction in abortable state");
        if (f == F_ABORT) {
                x->doomed = true;
                return say(m, SL_TXN_ABORT, "commit failed (injected)");
        }
        int32_t t = m->open;
        commit_txn(s, t);
        if (s->failed)
                return SL_TXN_FATAL;
        trace(s, "  transaction %d committed", t);
        if (f == F_LOST) {
                m->reply_lost = true;
                s->cnt.lost++;
                trace(s, "  inject reply lost into commit (committed on the broker)");
                return say(m, SL_TXN_RETRY, "request timed out");
        }
        if (f == F_DIE)
                return say(m, SL_TXN_FATAL, "died after commit");
        return SL_TXN_OK;
}

static enum sl_txn_status eos_abort(void *ctx)
{
        struct inst *in = ctx;
        struct sim *s = in->s;
        struct model *m = &s->m;
        if (fenced(in, K_ABORT))
                return SL_TXN_FATAL;
        switch (draw(s, K_ABORT)) {
        case F_RETRY: return say(m, SL_TXN_RETRY, "coordinator not available");
        case F_FATAL: return say(m, SL_TXN_FATAL, "fatal (injected)");
        default: break;
        }
        if (m->open < 0) {
                if (m->last >= 0 && m->txns[m->last].state == T_COMMITTED) {
                        s->cnt.invalid_abort++;
                        trace(s, "  abort of committed transaction %d: INVALID_TXN_STATE", m->last);
                        return say(m, SL_TXN_FATAL, "INVALID_TXN_STATE: the transaction committed");
                }
                return violation(s, "abort outside a transaction");
        }
        m->txns[m->open].state = T_ABORTED;
        trace(s, "  transaction %d aborted", m->open);
        m->open = -1;
        s->cnt.txn_aborted++;
        return SL_TXN_OK;
}

static const char *model_error(void *ctx)
{
        return ((struct inst *)ctx)->s->m.err;
}

static const struct sl_txn_ops eos_ops = {
        .begin = eos_begin, .produce = eos_produce, .send_offsets = eos_send_offsets,
        .commit = eos_commit, .abort = eos_abort, .error = model_error,
};

/* At-least-once: no transactions; a row is delivered when produced (a
 * failed produce may have been delivered too); the offset commit is fenced
 * by the group generation, produce is not. */
static enum sl_txn_status alo_nop(void *ctx)
{
        (void)ctx;
        return SL_TXN_OK;
}

static enum sl_txn_status alo_produce(void *ctx, const struct sl_out_msg *om)
{
        struct inst *in = ctx;
        struct sim *s = in->s;
        struct model *m = &s->m;
        switch (draw(s, K_PRODUCE)) {
        case F_RETRY: return say(m, SL_TXN_RETRY, "queue full");
        case F_FATAL: return say(m, SL_TXN_FATAL, "fatal (injected)");
        case F_ABORT:
                if (below(&s->rng, 2))
                        append(in, om, -1);
                return say(m, SL_TXN_ABORT, "delivery failed (injected)");
        case F_DIE:
                append(in, om, -1);
                return say(m, SL_TXN_FATAL, "died after produce");
        default: break;
        }
        append(in, om, -1);
        s->cnt.rows++;
        return SL_TXN_OK;
}

static enum sl_txn_status alo_send_offsets(void *ctx, const struct sl_offset *o, uint32_t n)
{
        struct inst *in = ctx;
        struct sim *s = in->s;
        for (uint32_t i = 0; i < n; i++) {
                if (o[i].src != 0 || o[i].partition < 0 || (uint32_t)o[i].partition >= s->m.np ||
                    o[i].offset < 0 || o[i].offset > (int64_t)s->in->n[o[i].partition])
                        return violation(s, "send_offsets: no such partition or offset");
                in->pending[o[i].partition] = o[i].offset;
        }
        in->pending_set = true;
        return SL_TXN_OK;
}

static enum sl_txn_status alo_commit(void *ctx)
{
        struct inst *in = ctx;
        struct sim *s = in->s;
        struct model *m = &s->m;
        if (!in->pending_set)
                return SL_TXN_OK;
        if (fenced(in, K_COMMIT))
                return SL_TXN_FATAL;
        enum fault f = draw(s, K_COMMIT);
        switch (f) {
        case F_RETRY: return say(m, SL_TXN_RETRY, "request timed out");
        case F_FATAL: return say(m, SL_TXN_FATAL, "fatal (injected)");
        case F_ABORT:
                in->pending_set = false;
                return say(m, SL_TXN_ABORT, "offset commit failed (injected)");
        default: break;
        }
        apply_offsets(s, in->pending);
        for (uint32_t p = 0; p < MAXP; p++)
                in->pending[p] = -1;
        in->pending_set = false;
        s->cnt.commits++;
        if (f == F_LOST) {
                s->cnt.lost++;
                trace(s, "  inject reply lost into commit (offsets committed)");
                return say(m, SL_TXN_RETRY, "request timed out");
        }
        if (f == F_DIE)
                return say(m, SL_TXN_FATAL, "died after commit");
        return SL_TXN_OK;
}

static const struct sl_txn_ops alo_ops = {
        .begin = alo_nop, .produce = alo_produce, .send_offsets = alo_send_offsets,
        .commit = alo_commit, .abort = alo_nop, .error = model_error,
};

/* ---- the driver: what kafka_run.c's Kafka thread does ------------------- */

/* A checkpoint run's crash at point cp, drawn; the caller unwinds and the
 * instance is dropped by settle (or its caller). */
static bool maybe_crash(struct inst *in, enum cpoint cp)
{
        struct sim *s = in->s;
        if (!s->ckpt || !s->m.f.on || in->crashed || !chance(&s->rng, s->cp_ppm[cp]))
                return false;
        in->crashed = true;
        s->cnt.cp[cp]++;
        trace(s, "instance %u crashes %s%s", in->id, cp_name[cp],
              in->c.open ? " with a transaction open" : "");
        return true;
}

/*
 * What kafka_run.c's on_assign and rewind_all do for one partition, given
 * its committed offset co (-1: none): reset with rows suppressed below co;
 * then, checkpoints on and co > 0, the newest snapshot at or below co that
 * decodes is loaded and input is read again from its offset; else from 0.
 */
static void restore_part(struct inst *in, uint32_t p, int64_t co)
{
        struct sim *s = in->s;
        struct sl_part *pt = in->parts[p];
        assert_int_equal(sl_part_reset(pt, co > 0 ? co : 0), 0);
        in->pos[p] = 0;
        in->restored[p] = -1;
        if (co <= 0)
                return;
        s->cnt.restores++;
        if (s->ckpt) {
                struct pdisk *d = &s->disk[p];
                int64_t *cand = malloc((d->n + 1) * sizeof *cand);
                assert_non_null(cand);
                bool scan = d->man_bad || !d->man_exists;
                for (uint32_t i = 0; i < d->nman && !scan; i++)
                        scan = find_file(d, d->man[i], false) < 0;
                uint32_t n = d->nman;
                if (scan) {
                        n = list_files(d, cand);
                        if (n)
                                s->cnt.man_fallback++;
                } else {
                        memcpy(cand, d->man, n * sizeof *cand);
                }
                for (uint32_t i = 0; i < n && !s->failed; i++) {
                        if (cand[i] > co)
                                continue;
                        const struct sfile *f = &d->f[find_file(d, cand[i], false)];
                        const uint8_t *pl;
                        size_t plen;
                        char whybuf[320];
                        const char *why = snap_decode(s->in->plan, f->b, f->len, (int32_t)p,
                                                      f->off, &pl, &plen, whybuf, sizeof whybuf);
                        if (why) {
                                s->cnt.skipped++;
                                trace(s, "  p%u: snapshot at %lld skipped: %s", p,
                                      (long long)f->off, why);
                                continue;
                        }
                        int rc = sl_part_load(pt, pl, plen);
                        if (rc != 0) {
                                sim_fail(s, "sl_part_load(p%u, the snapshot at %lld, %zu bytes): %d, "
                                            "for a snapshot this pipeline saved", p,
                                         (long long)f->off, plen, rc);
                                break;
                        }
                        /* The state saved again: the same bytes? (counted) */
                        struct sl_buf again = {0};
                        int64_t st;
                        uint64_t ent = 0;
                        assert_int_equal(sl_part_save(pt, &again, &st, &ent), 0);
                        if (again.len == plen && memcmp(again.p, pl, plen) == 0)
                                s->cnt.resave_same++;
                        else
                                s->cnt.resave_diff++;
                        sl_buf_free(&again);
                        /* A truncated payload must be refused. */
                        if (below(&s->rng, 4) == 0 && plen > 0) {
                                struct sl_part *x = sl_part_new(s->in->plan, 0, (int32_t)p, &in->oq);
                                assert_non_null(x);
                                size_t cut = below(&s->rng, (uint32_t)plen);
                                if (sl_part_load(x, pl, cut) == 0)
                                        sim_fail(s, "sl_part_load accepted the first %zu of the %zu "
                                                    "bytes of the snapshot of p%u at %lld", cut,
                                                 plen, p, (long long)f->off);
                                else
                                        s->cnt.trunc_refused++;
                                sl_part_destroy(x);
                        }
                        in->pos[p] = in->restored[p] = f->off;
                        s->cnt.from_snap++;
                        s->cnt.replayed += (uint64_t)(co - f->off);
                        s->cnt.saved += (uint64_t)f->off;
                        trace(s, "  p%u: restored from the snapshot at %lld, replay to %lld", p,
                              (long long)f->off, (long long)co);
                        free(cand);
                        return;
                }
                free(cand);
                if (s->failed)
                        return;
                trace(s, "  p%u: no usable snapshot at or below %lld: replay from 0", p,
                      (long long)co);
        }
        s->cnt.from_zero++;
        s->cnt.replayed += (uint64_t)co;
}

static void push_job(struct inst *in, bool prune, uint32_t p, int64_t off, struct sl_buf *enc)
{
        if (in->njobs == in->capjobs) {
                in->capjobs = in->capjobs ? 2 * in->capjobs : 8;
                in->jobs = realloc(in->jobs, in->capjobs * sizeof *in->jobs);
                assert_non_null(in->jobs);
        }
        struct job *j = &in->jobs[in->njobs++];
        *j = (struct job){.prune = prune, .p = p, .off = off};
        if (enc) {
                j->enc = *enc;
                *enc = (struct sl_buf){0};
        }
}

static void pop_job(struct inst *in)
{
        sl_buf_free(&in->jobs[0].enc);
        memmove(in->jobs, in->jobs + 1, --in->njobs * sizeof *in->jobs);
}

/* A truncation or a flipped byte. */
static void tear(struct sim *s, uint8_t *b, size_t *len)
{
        if (*len && below(&s->rng, 2))
                b[below(&s->rng, (uint32_t)*len)] ^= (uint8_t)(1u << below(&s->rng, 8));
        else
                *len = below(&s->rng, (uint32_t)*len);
}

/*
 * The writer thread does its oldest job; dying: the process dies in the
 * middle of it.  Returns true if the process died (the caller drops it).
 */
static bool writer_step(struct inst *in, bool dying)
{
        struct sim *s = in->s;
        struct job *j = &in->jobs[0];
        struct pdisk *d = &s->disk[j->p];
        bool crash = dying || maybe_crash(in, j->prune ? CP_PRUNE : CP_SNAP_WRITE);
        if (!j->prune) {
                uint32_t stage = crash ? below(&s->rng, 3) : 3;
                if (stage == 0) {
                        /* <name>.tmp half written */
                        size_t len = j->enc.len;
                        tear(s, (uint8_t *)j->enc.p, &len);
                        put_file(d, j->off, true, j->enc.p, len);
                        s->cnt.torn++;
                        trace(s, "  p%u: write of the snapshot at %lld torn (%zu of %zu bytes)",
                              j->p, (long long)j->off, len, j->enc.len);
                } else {
                        /* written, fsynced, renamed to <name> */
                        int t = find_file(d, j->off, true);
                        if (t >= 0)
                                unlink_file(d, (uint32_t)t);
                        put_file(d, j->off, false, j->enc.p, j->enc.len);
                        if (stage == 3) {
                                write_manifest(d);
                                s->cnt.published++;
                                trace(s, "  p%u: snapshot at %lld published", j->p,
                                      (long long)j->off);
                        } else {
                                s->cnt.unpublished += stage == 1;
                                s->cnt.man_torn += stage == 2;
                                trace(s, "  p%u: snapshot at %lld renamed, %s", j->p,
                                      (long long)j->off, stage == 1 ? "crash before MANIFEST.tmp"
                                                                    : "MANIFEST.tmp torn");
                        }
                }
        } else {
                /* Retention: the newest snapshot at or below committed
                 * whose header and size check out; the older ones go. */
                int64_t keep = -1;
                for (uint32_t i = 0; i < d->n; i++) {
                        const struct sfile *f = &d->f[i];
                        if (!f->tmp && f->off <= j->off && f->off > keep &&
                            snap_header_ok(f->b, f->len, f->off))
                                keep = f->off;
                }
                uint32_t victims = 0;
                for (uint32_t i = 0; keep >= 0 && i < d->n; i++)
                        victims += !d->f[i].tmp && d->f[i].off < keep;
                uint32_t cut = crash ? below(&s->rng, victims + 1) : victims;
                for (uint32_t i = 0, k = 0; k < cut;) {
                        if (!d->f[i].tmp && d->f[i].off < keep) {
                                unlink_file(d, i);
                                k++;
                        } else {
                                i++;
                        }
                }
                s->cnt.pruned += cut;
                if (victims && !crash)
                        write_manifest(d);
                if (crash)
                        s->cnt.prune_cut++;
                if (victims)
                        trace(s, "  p%u: retention at committed %lld keeps %lld: %u of %u older "
                                 "removed%s", j->p, (long long)j->off, (long long)keep, cut,
                              victims, crash ? ", crash before MANIFEST" : "");
        }
        pop_job(in);
        return crash;
}

/* A disk that lied about fsync: a published file or MANIFEST damaged. */
static void damage(struct sim *s)
{
        struct pdisk *d = &s->disk[below(&s->rng, s->m.np)];
        if (below(&s->rng, 4) == 0) {
                if (d->man_exists) {
                        d->man_bad = true;
                        s->cnt.man_damaged++;
                        trace(s, "  MANIFEST damaged");
                }
                return;
        }
        int newest = -1, any = -1, named = 0;
        for (uint32_t i = 0; i < d->n; i++) {
                if (d->f[i].tmp)
                        continue;
                if (newest < 0 || d->f[i].off > d->f[newest].off)
                        newest = (int)i;
                if (below(&s->rng, (uint32_t)++named) == 0)
                        any = (int)i;
        }
        if (newest < 0)
                return;
        struct sfile *f = &d->f[below(&s->rng, 2) ? newest : any];
        size_t len = f->len;
        tear(s, f->b, &f->len);
        s->cnt.damaged++;
        trace(s, "  snapshot at %lld damaged (%zu of %zu bytes)", (long long)f->off, f->len, len);
}

enum gone { GONE_CRASH, GONE_FATAL, GONE_AWAY };

static void inst_drop(struct inst *in);

/* The process is gone: killed (its writer maybe in the middle of a job,
 * the rest of its queue lost, the disk maybe damaged), or stopped after a
 * fatal error (the writer finishes its queue, as sl_ckpt_writer_destroy_finish). */
static void inst_gone(struct inst *in, enum gone how)
{
        struct sim *s = in->s;
        bool killed = false;
        if (how == GONE_FATAL)
                while (in->njobs && !killed)
                        killed = writer_step(in, false);
        else if (in->njobs && s->m.f.on && below(&s->rng, 2))
                writer_step(in, true);
        s->cnt.lost_jobs += in->njobs;
        if ((how != GONE_FATAL || killed) && s->ckpt && s->m.f.on &&
            chance(&s->rng, s->damage_ppm))
                damage(s);
        if (s->cur == in)
                s->cur = NULL;
        if (s->zombie == in)
                s->zombie = NULL;
        inst_drop(in);
}

/* What a worker does for KB_SNAPSHOT, for one partition, and the Kafka
 * thread's sl_ckpt_submit. */
static void take_snapshot(struct inst *in, uint32_t p)
{
        struct sim *s = in->s;
        struct sl_part *pt = in->parts[p];
        int64_t off = sl_part_next_offset(pt);
        if (off != in->pos[p]) {
                s->cnt.label_wrong++;
                if (label_mode == LABEL_STRICT) {
                        sim_fail(s, "instance %u: a snapshot of p%u would be labelled offset %lld "
                                    "(sl_part_next_offset, as kafka_run.c's take_snapshots) but "
                                    "holds the state of offsets [0, %lld)%s", in->id, p,
                                 (long long)off, (long long)in->pos[p],
                                 in->restored[p] == in->pos[p]
                                         ? ": restored from a snapshot at that offset, no record "
                                           "since, and sl_part_load does not set the next offset"
                                         : "");
                        return;
                }
                if (label_mode == LABEL_FED)
                        off = in->pos[p];
        }
        struct sl_buf pl = {0}, enc = {0};
        int64_t st;
        uint64_t ent = 0;
        int rc = sl_part_save(pt, &pl, &st, &ent);
        if (rc != 0) {
                sim_fail(s, "sl_part_save(p%u): %d", p, rc);
                sl_buf_free(&pl);
                return;
        }
        snap_encode(s->in->plan, (int32_t)p, off, st, ent, pl.p, pl.len, &enc);
        sl_buf_free(&pl);
        s->cnt.snaps++;
        s->cnt.snap_bytes += enc.len;
        trace(s, "instance %u snapshots p%u at %lld: %zu bytes, %llu keys", in->id, p,
              (long long)off, enc.len, (unsigned long long)ent);
        push_job(in, false, p, off, &enc);
}

/* Retention for what the committer's offsets cover, queued. */
static void queue_prunes(struct inst *in)
{
        for (uint32_t p = 0; p < in->s->m.np; p++) {
                int64_t co = in->c.parts[in->cidx[p]].committed;
                if (co > 0)
                        push_job(in, true, p, co, NULL);
        }
}

/* kafka_run.c at checkpoint time: poll_checkpoints(prune), then
 * KB_SNAPSHOT; here for a random non-empty subset of the partitions. */
static void snapshot_step(struct inst *in)
{
        struct sim *s = in->s;
        queue_prunes(in);
        uint32_t np = s->m.np, first = below(&s->rng, np);
        for (uint32_t i = 0; i < np && !s->failed; i++)
                if (i == 0 || below(&s->rng, 2))
                        take_snapshot(in, (first + i) % np);
}

/* The writer threads of the live instances make progress: some of the
 * queued jobs done, oldest first. */
static void writers(struct sim *s)
{
        struct inst *w[2] = {s->cur, s->zombie};
        for (int i = 0; i < 2 && !s->failed; i++) {
                if (!w[i] || !w[i]->njobs || !chance(&s->rng, s->writer_ppm))
                        continue;
                for (uint32_t k = 1 + below(&s->rng, w[i]->njobs); k > 0; k--) {
                        if (writer_step(w[i], false)) {
                                inst_gone(w[i], GONE_CRASH);
                                break;
                        }
                }
        }
}

static struct inst *inst_start(struct sim *s)
{
        static const uint32_t budgets[] = {0, 1, 2, 3, 5, 50, 50, 50};
        struct inst *in = calloc(1, sizeof *in);
        assert_non_null(in);
        in->s = s;
        in->id = (uint32_t)s->cnt.instances++;
        in->epoch = model_new_producer(s);
        sl_committer_init(&in->c, s->m.eos ? &eos_ops : &alo_ops, in);
        if (s->m.f.on)
                in->c.max_retries = budgets[below(&s->rng, 8)];
        assert_int_equal(sl_ring_init(&in->ring, 256), 0);
        atomic_init(&in->stop, false);
        in->oq = (struct sl_outq){.ring = &in->ring, .stop = &in->stop};
        in->defer = below(&s->rng, 2);
        /* sl_ckpt_writer_new removes the temporaries */
        for (uint32_t p = 0; s->ckpt && p < s->m.np; p++) {
                for (uint32_t i = 0; i < s->disk[p].n;) {
                        if (s->disk[p].f[i].tmp)
                                unlink_file(&s->disk[p], i);
                        else
                                i++;
                }
        }
        /* Assignment order varies, so committer indices differ from partitions. */
        uint32_t order[MAXP];
        for (uint32_t p = 0; p < s->m.np; p++)
                order[p] = p;
        for (uint32_t p = s->m.np; p > 1; p--) {
                uint32_t j = below(&s->rng, p), t = order[p - 1];
                order[p - 1] = order[j];
                order[j] = t;
        }
        for (uint32_t i = 0; i < s->m.np; i++) {
                uint32_t p = order[i];
                int64_t co = s->m.committed[p];
                in->parts[p] = sl_part_new(s->in->plan, 0, (int32_t)p, &in->oq);
                assert_non_null(in->parts[p]);
                restore_part(in, p, co);
                in->cidx[p] = sl_committer_assign(&in->c, 0, (int32_t)p, co);
                assert_true(in->cidx[p] >= 0);
                in->pending[p] = -1;
        }
        trace(s, "start instance %u: epoch %u, retries %u, %s rewind; committed %lld %lld %lld %lld",
              in->id, in->epoch, in->c.max_retries, in->defer ? "deferred" : "immediate",
              (long long)s->m.committed[0], (long long)s->m.committed[1],
              (long long)s->m.committed[2], (long long)s->m.committed[3]);
        return in;
}

static void inst_drop(struct inst *in)
{
        if (!in)
                return;
        void *p;
        while (sl_ring_pop1_spsc(&in->ring, &p))
                free(p);
        free(in->oq.cur);
        sl_ring_destroy(&in->ring);
        for (uint32_t i = 0; i < MAXP; i++)
                sl_part_destroy(in->parts[i]);
        sl_committer_fini(&in->c);
        while (in->njobs)
                pop_job(in);
        free(in->jobs);
        free(in);
}

/* A random partition with input left for in, or -1. */
static int32_t pick_part(struct sim *s, const struct inst *in)
{
        uint32_t np = s->m.np, start = below(&s->rng, np);
        for (uint32_t i = 0; i < np; i++) {
                uint32_t p = (start + i) % np;
                if (in->pos[p] < s->in->n[p])
                        return (int32_t)p;
        }
        return -1;
}

static uint32_t pick_k(struct sim *s)
{
        return 1 + (below(&s->rng, 3) ? below(&s->rng, 64) : below(&s->rng, 4));
}

/* Produces every row the parts have made, as kafka_run.c's produce_batch. */
static enum sl_txn_status drain(struct inst *in, int32_t part)
{
        const struct sl_plan *plan = in->s->in->plan;
        if (in->oq.cur && in->oq.cur->used)
                assert_int_equal(sl_outq_flush(&in->oq, 0), 0);
        enum sl_txn_status st = SL_TXN_OK;
        void *p;
        while (sl_ring_pop1_spsc(&in->ring, &p)) {
                struct sl_outbatch *b = p;
                for (uint32_t off = 0; off < b->used;) {
                        const struct sl_row *row = (const struct sl_row *)(b->data + off);
                        off += sl_row_size(row->len);
                        if (st != SL_TXN_OK || in->discard)
                                continue;
                        if (part < 0 || row->kind != SL_ROW_OUTPUT) {
                                /* Every query here runs in its partition: no
                                 * repartition rows (kafka_run.c's stage 1). */
                                sim_fail(in->s, part < 0 ? "a row left in the queue at a cut"
                                                         : "a repartition row");
                                st = SL_TXN_FATAL;
                                continue;
                        }
                        const char *text = sl_row_text(row);
                        const struct sl_query *q = &plan->queries[row->query];
                        struct sl_out_msg m = {
                                .topic = q->topic, .query = row->query,
                                .key = row->klen ? text : NULL, .klen = row->klen,
                                .val = text + row->klen, .vlen = row->len - row->klen,
                                .ts = q->kind == SL_Q_AGGREGATE && q->win.kind != SL_WIN_NONE
                                        ? row->wend : 0,
                                .cause_ts = row->cause_ts,
                        };
                        if (m.vlen && m.val[m.vlen - 1] == '\n')
                                m.vlen--;
                        in->tag_part = part;
                        in->tag_off = (int64_t)row->seq - 1;
                        st = sl_committer_row(&in->c, &m);
                        if (st == SL_TXN_ABORT && in->defer) {
                                trace(in->s, "  instance %u: row failed (%s); discarding until "
                                             "the next commit", in->id, in->c.err);
                                in->discard = true;
                                in->s->cnt.deferred++;
                                st = SL_TXN_OK;
                        }
                }
                free(b);
        }
        return st;
}

/* Hands the next k records of partition p to processing; their rows stay
 * queued.  False if processing failed. */
static bool push_records(struct inst *in, uint32_t p, uint32_t k)
{
        struct sim *s = in->s;
        const struct input *inp = s->in;
        for (uint32_t i = 0; i < k && in->pos[p] < inp->n[p]; i++) {
                int64_t o = in->pos[p]++;
                const struct rec *r = &inp->recs[p][o];
                int rc = sl_part_record(in->parts[p], o,
                                        r->has_key ? inp->text.p + r->koff : NULL, r->klen,
                                        r->has_val ? inp->text.p + r->voff : NULL, r->vlen,
                                        r->msg_ts);
                if (rc != 0) {
                        sim_fail(s, "sl_part_record(p%u@%lld): %d", p, (long long)o, rc);
                        return false;
                }
                sl_committer_pushed(&in->c, (uint32_t)in->cidx[p], o);
                s->cnt.records++;
        }
        return true;
}

static enum sl_txn_status feed(struct inst *in, uint32_t p, uint32_t k)
{
        struct sim *s = in->s;
        int64_t from = in->pos[p];
        if (!push_records(in, p, k))
                return SL_TXN_FATAL;
        if (maybe_crash(in, CP_PROCESS))
                return SL_TXN_FATAL; /* rows made, not produced */
        enum sl_txn_status st = drain(in, (int32_t)p);
        trace(s, "instance %u feeds p%u [%lld, %lld): %s", in->id, p, (long long)from,
              (long long)in->pos[p], sl_txn_status_name(st));
        return st;
}

static void rewind_inst(struct inst *in, bool check)
{
        struct sim *s = in->s;
        sl_committer_rewind(&in->c);
        in->discard = false;
        void *q;
        while (sl_ring_pop1_spsc(&in->ring, &q)) /* rows of the aborted work */
                free(q);
        free(in->oq.cur);
        in->oq.cur = NULL;
        for (uint32_t p = 0; p < s->m.np; p++) {
                const struct sl_cpart *cp = &in->c.parts[in->cidx[p]];
                int64_t at = cp->committed < 0 ? 0 : cp->committed;
                if (cp->src != 0 || cp->partition != (int32_t)p || cp->pushed != at ||
                    cp->cut != at)
                        sim_fail(s, "rewind: partition %u: committed %lld cut %lld pushed %lld",
                                 p, (long long)cp->committed, (long long)cp->cut,
                                 (long long)cp->pushed);
                if (check && s->m.eos && at != (s->m.committed[p] < 0 ? 0 : s->m.committed[p]))
                        sim_fail(s, "rewind of p%u to offset %lld, but the broker committed %lld",
                                 p, (long long)cp->committed, (long long)s->m.committed[p]);
                restore_part(in, p, cp->committed);
        }
        s->cnt.rewinds++;
        trace(s, "instance %u rewinds to its committed offsets", in->id);
}

static enum sl_txn_status commit(struct inst *in)
{
        struct sim *s = in->s;
        sl_committer_cut(&in->c);
        enum sl_txn_status st = drain(in, -1);
        /* Records read after the cut, their rows still queued behind the
         * marker (a worker that went on): they belong to the next
         * transaction. */
        int32_t late = below(&s->rng, 3) == 0 ? pick_part(s, in) : -1;
        int64_t from = late >= 0 ? in->pos[late] : 0;
        if (late >= 0 && !push_records(in, (uint32_t)late, pick_k(s)))
                return SL_TXN_FATAL;
        if (st == SL_TXN_OK && maybe_crash(in, CP_PRODUCED))
                return SL_TXN_FATAL;
        if (st == SL_TXN_OK)
                st = in->discard ? SL_TXN_ABORT : sl_committer_commit(&in->c);
        trace(s, "instance %u commits: %s%s%s", in->id, sl_txn_status_name(st),
              st != SL_TXN_OK ? ": " : "", st != SL_TXN_OK ? in->c.err : "");
        if (late >= 0)
                trace(s, "  read after the cut: p%d [%lld, %lld)", late, (long long)from,
                      (long long)in->pos[late]);
        /* -1 (none) and 0 mean the same: nothing read. */
        if (st == SL_TXN_OK && s->m.eos && in == s->cur)
                for (uint32_t p = 0; p < s->m.np; p++)
                        if ((in->c.parts[in->cidx[p]].committed > 0 || s->m.committed[p] > 0) &&
                            in->c.parts[in->cidx[p]].committed != s->m.committed[p])
                                sim_fail(s, "after a commit, p%u: committer %lld, broker %lld", p,
                                         (long long)in->c.parts[in->cidx[p]].committed,
                                         (long long)s->m.committed[p]);
        if (st == SL_TXN_OK && s->ckpt && !s->failed) {
                if (maybe_crash(in, CP_COMMITTED))
                        return SL_TXN_FATAL;
                if (below(&s->rng, 2))
                        queue_prunes(in);
        }
        if (st == SL_TXN_OK && late >= 0 && !s->failed)
                st = drain(in, late);
        return st;
}

/* What the Kafka thread does with the committer's answer.  Returns false
 * when the instance is gone. */
static bool settle(struct inst *in, enum sl_txn_status st)
{
        struct sim *s = in->s;
        if (in->crashed) {
                inst_gone(in, GONE_CRASH);
                return false;
        }
        if (st != SL_TXN_OK && strstr(in->c.err, "retriable"))
                s->cnt.exhausted++;
        switch (st) {
        case SL_TXN_OK:
                return true;
        case SL_TXN_ABORT:
                rewind_inst(in, in == s->cur);
                if (maybe_crash(in, CP_RESTORED)) {
                        inst_gone(in, GONE_CRASH);
                        return false;
                }
                return true;
        case SL_TXN_FATAL:
                trace(s, "instance %u stops: %s", in->id, in->c.err);
                if (in == s->cur) {
                        s->cnt.fatal_restarts++;
                        s->cur = NULL;
                } else {
                        s->cnt.zombies_fenced++;
                        s->zombie = NULL;
                }
                inst_gone(in, GONE_FATAL);
                return false;
        case SL_TXN_RETRY:
                break;
        }
        sim_fail(s, "the committer returned %s", sl_txn_status_name(st));
        return false;
}

static bool all_committed(const struct sim *s)
{
        for (uint32_t p = 0; p < s->m.np; p++)
                if (s->m.committed[p] != (int64_t)s->in->n[p] &&
                    !(s->in->n[p] == 0 && s->m.committed[p] < 0))
                        return false;
        return true;
}

static void zombie_step(struct sim *s)
{
        struct inst *z = s->zombie;
        int32_t p = pick_part(s, z);
        enum sl_txn_status st = SL_TXN_OK;
        if (s->ckpt && below(&s->rng, 5) == 0)
                snapshot_step(z);
        else
                st = p >= 0 && below(&s->rng, 2) ? feed(z, (uint32_t)p, pick_k(s)) : commit(z);
        if (!settle(z, st))
                return;
        if (--s->zombie_steps == 0) {
                trace(s, "zombie instance %u goes away", z->id);
                inst_gone(z, GONE_AWAY);
        }
}

/*
 * A clean stop, as sluice_run_kafka's: after the last commit, a snapshot
 * of every partition, the writer finished.  The next start must restore
 * every partition at its committed offset, nothing to replay, no row.
 * (Its restores are not counted with the recoveries.)
 */
static void clean_stop(struct sim *s)
{
        struct inst *in = s->cur;
        for (uint32_t p = 0; p < s->m.np && !s->failed; p++)
                take_snapshot(in, p);
        while (in->njobs && !s->failed)
                writer_step(in, false);
        s->cur = NULL;
        inst_drop(in);
        if (s->failed)
                return;
        struct counts before = s->cnt;
        struct inst *again = inst_start(s);
        for (uint32_t p = 0; p < s->m.np && !s->failed; p++)
                if (s->m.committed[p] > 0 && again->restored[p] != s->m.committed[p])
                        sim_fail(s, "after a clean stop, p%u restarts from offset %lld, not from "
                                    "a snapshot at its committed offset %lld", p,
                                 (long long)again->pos[p], (long long)s->m.committed[p]);
        if (!s->failed && drain(again, -1) != SL_TXN_OK)
                sim_fail(s, "rows made by a restore");
        inst_drop(again);
        s->cnt.restores = before.restores;
        s->cnt.from_snap = before.from_snap;
        s->cnt.from_zero = before.from_zero;
        s->cnt.replayed = before.replayed;
        s->cnt.saved = before.saved;
        s->cnt.man_fallback = before.man_fallback;
        s->cnt.skipped = before.skipped;
        s->cnt.clean_restarts++;
}

/* Feeds everything and commits, faults off. */
static void finish(struct sim *s)
{
        s->m.f.on = false;
        s->m.f.burst = 0;
        if (s->zombie)
                inst_gone(s->zombie, GONE_AWAY);
        for (int round = 0; round < 4 && !s->failed; round++) {
                if (!s->cur)
                        s->cur = inst_start(s);
                struct inst *in = s->cur;
                int32_t p;
                enum sl_txn_status st = SL_TXN_OK;
                while (st == SL_TXN_OK && (p = pick_part(s, in)) >= 0)
                        st = feed(in, (uint32_t)p, 64);
                if (st == SL_TXN_OK)
                        st = commit(in);
                if (settle(in, st) && st == SL_TXN_OK) {
                        if (!all_committed(s))
                                sim_fail(s, "everything fed and committed, but the broker's "
                                            "offsets are not the partition ends");
                        if (s->ckpt && !s->failed)
                                clean_stop(s);
                        return;
                }
        }
        if (!s->failed)
                sim_fail(s, "no successful commit after the faults stopped");
}

static void run(struct sim *s)
{
        struct rng *r = &s->rng;
        uint64_t limit = 50 + s->in->total / 8;
        s->cur = inst_start(s);
        for (s->step = 1; s->step <= limit && !s->failed; s->step++) {
                if (!s->cur) {
                        s->cur = inst_start(s);
                        if (maybe_crash(s->cur, CP_RESTORED)) {
                                inst_gone(s->cur, GONE_CRASH);
                                continue;
                        }
                }
                if (s->ckpt) {
                        writers(s);
                        if (!s->cur || s->failed)
                                continue;
                }
                if (s->zombie && below(r, 4) == 0) {
                        zombie_step(s);
                        continue;
                }
                struct inst *in = s->cur;
                int32_t p = pick_part(s, in);
                if (p < 0 && all_committed(s))
                        break;
                uint32_t x = below(r, 1000000);
                if (x < s->crash_ppm) {
                        trace(s, "instance %u crashes%s", in->id,
                              in->c.open ? " with a transaction open" : "");
                        s->cnt.crashes++;
                        inst_gone(in, GONE_CRASH);
                } else if ((x -= s->crash_ppm) < s->zombie_ppm) {
                        if (s->zombie)
                                inst_gone(s->zombie, GONE_AWAY);
                        trace(s, "instance %u becomes a zombie", in->id);
                        s->zombie = in;
                        s->zombie_steps = 1 + below(r, 6);
                        s->cnt.zombies++;
                        s->cur = inst_start(s);
                        if (maybe_crash(s->cur, CP_RESTORED))
                                inst_gone(s->cur, GONE_CRASH);
                } else if ((x -= s->zombie_ppm) < s->snap_ppm) {
                        snapshot_step(in);
                } else if ((x -= s->snap_ppm) < s->commit_ppm || p < 0) {
                        settle(in, commit(in));
                } else {
                        settle(in, feed(in, (uint32_t)p, pick_k(s)));
                }
        }
        if (!s->failed)
                finish(s);
        inst_drop(s->cur);
        inst_drop(s->zombie);
        s->cur = s->zombie = NULL;
}

/* ---- views and their comparison --------------------------------------- */

struct vrow {
        const struct model *m;
        const struct msg *g;
        size_t idx; /* log order */
        uint64_t h; /* of the content: sorts fast, ties compared in full */
};

static struct vrow *view(const struct model *m, size_t *n)
{
        struct vrow *v = malloc((m->nlog + 1) * sizeof *v);
        assert_non_null(v);
        size_t k = 0;
        for (size_t i = 0; i < m->nlog; i++) {
                const struct msg *g = &m->log[i];
                if (g->txn >= 0 && m->txns[g->txn].state != T_COMMITTED)
                        continue;
                uint64_t h = XXH3_64bits_withSeed(m->text.p + g->voff, g->vlen,
                                                  (uint64_t)g->ts * 31 + g->query);
                h ^= XXH3_64bits(m->text.p + g->koff, g->klen) * 3 + g->has_key;
                v[k++] = (struct vrow){.m = m, .g = g, .idx = i, .h = h};
        }
        *n = k;
        return v;
}

static int cmp_bytes(const char *a, uint32_t na, const char *b, uint32_t nb)
{
        int c = memcmp(a, b, na < nb ? na : nb);
        return c ? c : (na > nb) - (na < nb);
}

static int cmp_content(const void *pa, const void *pb)
{
        const struct vrow *a = pa, *b = pb;
        const struct msg *x = a->g, *y = b->g;
        if (a->h != b->h)
                return a->h < b->h ? -1 : 1;
        int c = (x->query > y->query) - (x->query < y->query);
        if (!c)
                c = (int)x->has_key - (int)y->has_key;
        if (!c)
                c = cmp_bytes(a->m->text.p + x->koff, x->klen, b->m->text.p + y->koff, y->klen);
        if (!c)
                c = cmp_bytes(a->m->text.p + x->voff, x->vlen, b->m->text.p + y->voff, y->vlen);
        if (!c)
                c = (x->ts > y->ts) - (x->ts < y->ts);
        return c;
}

/* Groups by (topic, key), rows without a key by (topic, source partition);
 * log order within a group. */
static int cmp_group(const void *pa, const void *pb)
{
        const struct vrow *a = pa, *b = pb;
        const struct msg *x = a->g, *y = b->g;
        int c = (x->query > y->query) - (x->query < y->query);
        if (!c)
                c = (int)x->has_key - (int)y->has_key;
        if (!c && x->has_key)
                c = cmp_bytes(a->m->text.p + x->koff, x->klen, b->m->text.p + y->koff, y->klen);
        if (!c && !x->has_key)
                c = x->part - y->part;
        if (!c)
                c = (a->idx > b->idx) - (a->idx < b->idx);
        return c;
}

static bool same_group(const struct vrow *a, const struct vrow *b)
{
        const struct msg *x = a->g, *y = b->g;
        if (x->query != y->query || x->has_key != y->has_key)
                return false;
        if (!x->has_key)
                return x->part == y->part;
        return cmp_bytes(a->m->text.p + x->koff, x->klen, b->m->text.p + y->koff, y->klen) == 0;
}

static int cmp_part(const void *pa, const void *pb)
{
        const struct vrow *a = pa, *b = pb;
        int c = a->g->part - b->g->part;
        return c ? c : (a->idx > b->idx) - (a->idx < b->idx);
}

static bool row_eq(const struct vrow *a, const struct vrow *b)
{
        return cmp_content(a, b) == 0;
}

static void say_row(char *out, size_t n, const struct vrow *v)
{
        describe(out, n, v->m, v->g);
}

/* Exactly-once: equal as multisets, per group in order, per source
 * partition in order. */
static void check_eos(struct sim *s)
{
        size_t nr, ng;
        struct vrow *ref = view(s->ref, &nr), *got = view(&s->m, &ng);
        char a[400], b[400];
        s->cnt.visible += ng;
        static int (*const orders[])(const void *, const void *) = {cmp_content, cmp_group,
                                                                    cmp_part};
        static const char *const what[] = {"as a multiset", "per (topic, key)",
                                           "per source partition"};
        for (int o = 0; o < 3 && !s->failed; o++) {
                qsort(ref, nr, sizeof *ref, orders[o]);
                qsort(got, ng, sizeof *got, orders[o]);
                for (size_t i = 0; i < nr || i < ng; i++) {
                        if (i < nr && i < ng && row_eq(&ref[i], &got[i]) &&
                            (o < 2 || ref[i].g->off == got[i].g->off))
                                continue;
                        if (i < nr)
                                say_row(a, sizeof a, &ref[i]);
                        if (i < ng)
                                say_row(b, sizeof b, &got[i]);
                        sim_fail(s, "committed view differs %s at row %zu (of %zu, reference "
                                    "%zu): reference %s, committed %s", what[o], i, ng, nr,
                                 i < nr ? a : "(end)", i < ng ? b : "(end)");
                        break;
                }
        }
        free(ref);
        free(got);
}

/* At-least-once: every reference row delivered; per group the reference
 * sequence is a subsequence of the delivered one. */
static void check_alo(struct sim *s)
{
        size_t nr, ng;
        struct vrow *ref = view(s->ref, &nr), *got = view(&s->m, &ng);
        char a[400];
        s->cnt.visible += ng;
        qsort(ref, nr, sizeof *ref, cmp_content);
        qsort(got, ng, sizeof *got, cmp_content);
        for (size_t i = 0, j = 0; i < nr && !s->failed; i++) {
                while (j < ng && cmp_content(&got[j], &ref[i]) < 0)
                        j++;
                if (j == ng || !row_eq(&got[j], &ref[i])) {
                        say_row(a, sizeof a, &ref[i]);
                        sim_fail(s, "at-least-once: reference row %s was never delivered", a);
                }
                j++;
        }
        qsort(ref, nr, sizeof *ref, cmp_group);
        qsort(got, ng, sizeof *got, cmp_group);
        for (size_t i = 0, j = 0; i < nr && !s->failed;) {
                /* the group of ref[i] in got */
                while (j < ng && !same_group(&got[j], &ref[i]))
                        j++;
                size_t i0 = i;
                for (; i < nr && same_group(&ref[i], &ref[i0]); i++) {
                        while (j < ng && same_group(&got[j], &ref[i0]) && !row_eq(&got[j], &ref[i]))
                                j++;
                        if (j == ng || !same_group(&got[j], &ref[i0])) {
                                say_row(a, sizeof a, &ref[i]);
                                sim_fail(s, "at-least-once: per key, the reference row %s is "
                                            "out of order in what was delivered", a);
                                break;
                        }
                        j++;
                }
        }
        free(ref);
        free(got);
}

/* Each keyed output row's key lives in one source partition (so per-key
 * order is defined), and the reference per source partition. */
static void index_reference(struct sim *s)
{
        size_t n;
        struct vrow *v = view(s->ref, &n);
        qsort(v, n, sizeof *v, cmp_group);
        for (size_t i = 1; i < n; i++)
                if (v[i].g->has_key && same_group(&v[i], &v[i - 1]) &&
                    v[i].g->part != v[i - 1].g->part)
                        fail_msg("seed %llu: test bug: a key in two partitions",
                                 (unsigned long long)s->seed);
        qsort(v, n, sizeof *v, cmp_part);
        for (size_t i = 0; i < n; i++) {
                struct refpart *rp = &s->refp[v[i].g->part];
                if (rp->n == rp->cap) {
                        rp->cap = rp->cap ? 2 * rp->cap : 256;
                        rp->m = realloc(rp->m, rp->cap * sizeof *rp->m);
                        assert_non_null(rp->m);
                }
                rp->m[rp->n++] = v[i].g;
        }
        free(v);
}

/* ---- one seed ---------------------------------------------------------- */

static void sim_init(struct sim *s, const char *name, uint64_t seed, struct input *in,
                     bool eos, uint64_t stream)
{
        memset(s, 0, sizeof *s);
        s->name = name;
        s->seed = seed;
        s->in = in;
        s->rng.s = seed * 0x9e3779b97f4a7c15ull ^ stream;
        s->verbose = getenv("SL_SIM_TRACE") && *getenv("SL_SIM_TRACE") == '1';
        model_init(&s->m, eos, in->np);
}

static void sim_free(struct sim *s)
{
        model_free(&s->m);
        for (uint32_t p = 0; p < MAXP; p++)
                free_disk(&s->disk[p]);
        for (uint32_t p = 0; p < MAXP; p++)
                free(s->refp[p].m);
}

static void dump(const struct sim *s)
{
        const struct faults *f = &s->m.f;
        fprintf(stderr,
                "\n%s simulation FAILED, seed %llu (rerun with SL_SIM_SEED=%llu, "
                "SL_SIM_TRACE=1 for every step)\n  %s\n"
                "  input: %u partitions, %llu records, %u keys; faults (ppm): retry %u abort %u "
                "fatal %u, produce retry %u abort %u fatal %u die %u, commit lost %u die %u, "
                "outage %u; crash %u zombie %u commit %u\n%s\n  last steps:\n",
                s->name, (unsigned long long)s->seed, (unsigned long long)s->seed, s->why,
                s->in->np, (unsigned long long)s->in->total, s->in->nkeys, f->retry, f->abort,
                f->fatal, f->p_retry, f->p_abort, f->p_fatal, f->p_die, f->lost, f->die,
                f->outage, s->crash_ppm, s->zombie_ppm, s->commit_ppm, s->in->sql);
        if (s->ckpt)
                fprintf(stderr, "  checkpoints (ppm): snapshot %u, writer %u, damage %u; crash "
                                "during processing %u, in a write %u, in a prune %u, between "
                                "produce and commit %u, after commit %u, after restore %u\n",
                        s->snap_ppm, s->writer_ppm, s->damage_ppm, s->cp_ppm[CP_PROCESS],
                        s->cp_ppm[CP_SNAP_WRITE], s->cp_ppm[CP_PRUNE], s->cp_ppm[CP_PRODUCED],
                        s->cp_ppm[CP_COMMITTED], s->cp_ppm[CP_RESTORED]);
        uint64_t from = s->ntrace > TRACE_LINES ? s->ntrace - TRACE_LINES : 0;
        for (uint64_t i = from; i < s->ntrace; i++)
                fprintf(stderr, "    %s\n", s->trace[i % TRACE_LINES]);
}

static void draw_config(struct sim *s)
{
        struct rng *r = &s->rng;
        struct faults *f = &s->m.f;
        static const uint32_t level[] = {0, 1000, 5000, 20000, 60000};
        f->on = true;
        if (below(r, 10) != 0) {
                f->retry = level[below(r, 5)];
                f->abort = level[below(r, 4)];
                f->fatal = level[below(r, 3)] / 2;
                f->p_retry = level[below(r, 4)] / 4;
                f->p_abort = level[below(r, 3)] / 8;
                f->p_fatal = level[below(r, 2)] / 8;
                f->p_die = level[below(r, 2)] / 8;
                f->lost = level[below(r, 5)] * 3;
                f->die = level[below(r, 4)];
                f->outage = level[below(r, 4)] / 2;
        }
        static const uint32_t steps[] = {0, 10000, 30000, 60000};
        s->crash_ppm = steps[below(r, 4)];
        s->zombie_ppm = steps[below(r, 4)] / 2;
        s->commit_ppm = 50000 + below(r, 200000);
        if (!s->ckpt)
                return;
        static const uint32_t cp[] = {0, 5000, 20000, 50000};
        s->snap_ppm = 20000 + below(r, 250000);
        s->writer_ppm = 100000 + below(r, 900000);
        for (int i = 0; i < CP_N; i++)
                s->cp_ppm[i] = cp[below(r, 4)];
        s->cp_ppm[CP_SNAP_WRITE] *= 2;
        s->damage_ppm = below(r, 3) * 150000;
}

/* The reference: one instance, no faults, commits at random points. */
static bool run_reference(struct sim *s)
{
        s->commit_ppm = 20000 + below(&s->rng, 200000);
        run(s);
        if (!s->failed && s->cnt.instances != 1)
                sim_fail(s, "the reference run restarted");
        return !s->failed;
}

static const char *run_name(bool alo, bool ckpt)
{
        return ckpt ? (alo ? "checkpoints, at-least-once" : "checkpoints, exactly-once")
                    : (alo ? "at-least-once" : "exactly-once");
}

static struct counts *run_total(bool alo, bool ckpt)
{
        return ckpt ? (alo ? &total_ckpt_alo : &total_ckpt) : (alo ? &total_alo : &total_eos);
}

static bool run_seed(uint64_t seed, bool alo, bool ckpt)
{
        struct input in;
        make_input(&in, seed);
        struct sim ref, sim;
        sim_init(&ref, "reference", seed, &in, true, 0x5eed);
        bool ok = run_reference(&ref);
        if (ok) {
                sim_init(&sim, run_name(alo, ckpt), seed, &in, !alo,
                         (alo ? 0xa10 : 0xe05) ^ (ckpt ? 0xc0c4000 : 0));
                sim.ckpt = ckpt;
                sim.ref = &ref.m;
                if (!alo)
                        index_reference(&sim);
                draw_config(&sim);
                run(&sim);
                if (!sim.failed) {
                        if (alo)
                                check_alo(&sim);
                        else
                                check_eos(&sim);
                }
                ok = !sim.failed;
                if (!ok)
                        dump(&sim);
                sim.cnt.seeds = 1;
                counts_add(run_total(alo, ckpt), &sim.cnt);
                sim_free(&sim);
        } else {
                dump(&ref);
        }
        sim_free(&ref);
        free_input(&in);
        return ok;
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
        const char *v = getenv(name);
        if (!v || !*v)
                return dflt;
        char *end;
        unsigned long long x = strtoull(v, &end, 10);
        if (*end)
                fail_msg("%s=%s: not a number", name, v);
        return x;
}

static double now_s(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void print_counts(const char *name, const struct counts *c, double secs)
{
        print_message("%s: %llu seeds in %.1f s; %llu records processed (replays included), "
                      "%llu instances, %llu transactions committed, %llu aborted by the "
                      "committer, %llu rewinds (%llu deferred), %llu rows produced, %llu in the "
                      "final views\n",
                      name, (unsigned long long)c->seeds, secs, (unsigned long long)c->records,
                      (unsigned long long)c->instances, (unsigned long long)c->commits,
                      (unsigned long long)c->txn_aborted, (unsigned long long)c->rewinds,
                      (unsigned long long)c->deferred, (unsigned long long)c->rows,
                      (unsigned long long)c->visible);
        print_message("%s: injected: %llu crashes between steps, %llu deaths inside produce or "
                      "commit, %llu zombies (%llu fenced; %llu fenced calls, %llu open "
                      "transactions aborted by a new epoch), %llu retriable errors (%llu bursts, "
                      "%llu retry budgets exhausted), %llu abortable errors, %llu fatal errors "
                      "(%llu restarts after FATAL), %llu lost commit replies (%llu retried to OK, "
                      "%llu aborts of a committed transaction refused)\n",
                      name, (unsigned long long)c->crashes, (unsigned long long)c->deaths,
                      (unsigned long long)c->zombies, (unsigned long long)c->zombies_fenced,
                      (unsigned long long)c->fenced_calls, (unsigned long long)c->fenced_txns,
                      (unsigned long long)c->retries, (unsigned long long)c->bursts,
                      (unsigned long long)c->exhausted, (unsigned long long)c->aborts,
                      (unsigned long long)c->fatals, (unsigned long long)c->fatal_restarts,
                      (unsigned long long)c->lost, (unsigned long long)c->lost_ok,
                      (unsigned long long)c->invalid_abort);
        print_message("%s: recovery: %llu partitions restored at a committed offset > 0: %llu "
                      "from a snapshot, %llu by replay from offset 0; %llu records replayed "
                      "below committed offsets (%.1f per restore), %llu not replayed thanks to "
                      "snapshots\n",
                      name, (unsigned long long)c->restores, (unsigned long long)c->from_snap,
                      (unsigned long long)c->from_zero, (unsigned long long)c->replayed,
                      c->restores ? (double)c->replayed / (double)c->restores : 0.0,
                      (unsigned long long)c->saved);
        if (!c->snaps)
                return;
        print_message("%s: crashes: %llu during processing, %llu in a snapshot write, %llu in "
                      "a prune, %llu between produce and commit, %llu between commit and the "
                      "next snapshot, %llu right after a restore (and %llu between steps)\n",
                      name, (unsigned long long)c->cp[CP_PROCESS],
                      (unsigned long long)c->cp[CP_SNAP_WRITE], (unsigned long long)c->cp[CP_PRUNE],
                      (unsigned long long)c->cp[CP_PRODUCED], (unsigned long long)c->cp[CP_COMMITTED],
                      (unsigned long long)c->cp[CP_RESTORED], (unsigned long long)c->crashes);
        print_message("%s: snapshots: %llu taken (%.1f MB), %llu published; writes cut by a "
                      "crash: %llu torn temporaries, %llu renamed before MANIFEST, %llu with "
                      "MANIFEST.tmp torn; %llu queued jobs lost; %llu files and %llu MANIFESTs "
                      "damaged; %llu files removed by retention (%llu prunes cut); at restores "
                      "%llu snapshots skipped as corrupt or truncated, %llu listings of the "
                      "files without MANIFEST; %llu truncated payloads refused by sl_part_load; "
                      "save after load: %llu same bytes, %llu different; %llu clean restarts "
                      "at the committed offsets; %llu snapshots where sl_part_next_offset was not "
                      "the offset fed (SL_SIM_SNAP_LABEL)\n",
                      name, (unsigned long long)c->snaps, (double)c->snap_bytes / 1e6,
                      (unsigned long long)c->published, (unsigned long long)c->torn,
                      (unsigned long long)c->unpublished, (unsigned long long)c->man_torn,
                      (unsigned long long)c->lost_jobs, (unsigned long long)c->damaged,
                      (unsigned long long)c->man_damaged, (unsigned long long)c->pruned,
                      (unsigned long long)c->prune_cut, (unsigned long long)c->skipped,
                      (unsigned long long)c->man_fallback, (unsigned long long)c->trunc_refused,
                      (unsigned long long)c->resave_same, (unsigned long long)c->resave_diff,
                      (unsigned long long)c->clean_restarts, (unsigned long long)c->label_wrong);
}

static void run_seeds(bool alo, bool ckpt)
{
        uint64_t one = env_u64("SL_SIM_SEED", 0);
        uint64_t n = env_u64("SL_SIM_SEEDS", ckpt ? DEFAULT_CKPT_SEEDS : DEFAULT_SEEDS);
        if (alo)
                n = (n + 3) / 4;
        uint64_t first = one ? one : 1, last = one ? one : n;
        double t0 = now_s();
        for (uint64_t seed = first; seed <= last; seed++)
                if (!run_seed(seed, alo, ckpt))
                        fail_msg("%s simulation failed at seed %llu (SL_SIM_SEED=%llu)",
                                 run_name(alo, ckpt), (unsigned long long)seed,
                                 (unsigned long long)seed);
        print_counts(run_name(alo, ckpt), run_total(alo, ckpt), now_s() - t0);
}

static void test_sim_exactly_once(void **state)
{
        (void)state;
        run_seeds(false, false);
}

static void test_sim_at_least_once(void **state)
{
        (void)state;
        run_seeds(true, false);
}

/* Checkpoints and crash recovery from them (P1.3): exactly-once, then
 * at-least-once with a quarter as many seeds. */
static void test_sim_checkpoints(void **state)
{
        (void)state;
        const char *l = getenv("SL_SIM_SNAP_LABEL");
        label_mode = !l || !*l ? LABEL_STRICT : strcmp(l, "fed") == 0 ? LABEL_FED
                   : strcmp(l, "part") == 0 ? LABEL_PART : -1;
        if (label_mode < 0)
                fail_msg("SL_SIM_SNAP_LABEL=%s: expected fed or part", l);
        run_seeds(false, true);
        run_seeds(true, true);
}

/* ---- sl_committer alone, against scripted answers ------------------------- */

struct script {
        /* One letter per call, in order: o ok, r retry, a abort, f fatal;
         * after the end, `dflt`. */
        const char *ans[5];
        size_t next[5];
        char dflt[5];
        char log[256];    /* the calls made: B P O C A */
        size_t nlog;
        struct sl_offset sent[8];
        uint32_t nsent;
};

static enum sl_txn_status scripted(struct script *sc, enum call k)
{
        static const char letter[] = "BPOCA";
        assert_true(sc->nlog + 1 < sizeof sc->log);
        sc->log[sc->nlog++] = letter[k];
        sc->log[sc->nlog] = 0;
        const char *a = sc->ans[k];
        char c = a && a[sc->next[k]] ? a[sc->next[k]++] : sc->dflt[k];
        switch (c) {
        case 'r': return SL_TXN_RETRY;
        case 'a': return SL_TXN_ABORT;
        case 'f': return SL_TXN_FATAL;
        default: return SL_TXN_OK;
        }
}

static enum sl_txn_status sc_begin(void *ctx)
{
        return scripted(ctx, K_BEGIN);
}

static enum sl_txn_status sc_produce(void *ctx, const struct sl_out_msg *m)
{
        (void)m;
        return scripted(ctx, K_PRODUCE);
}

static enum sl_txn_status sc_offsets(void *ctx, const struct sl_offset *o, uint32_t n)
{
        struct script *sc = ctx;
        assert_true(n <= 8);
        memcpy(sc->sent, o, n * sizeof *o);
        sc->nsent = n;
        return scripted(ctx, K_OFFSETS);
}

static enum sl_txn_status sc_commit(void *ctx)
{
        return scripted(ctx, K_COMMIT);
}

static enum sl_txn_status sc_abort(void *ctx)
{
        return scripted(ctx, K_ABORT);
}

static const char *sc_error(void *ctx)
{
        (void)ctx;
        return "scripted";
}

static const struct sl_txn_ops sc_ops = {
        .begin = sc_begin, .produce = sc_produce, .send_offsets = sc_offsets,
        .commit = sc_commit, .abort = sc_abort, .error = sc_error,
};

static const struct sl_out_msg one_row = {.topic = "t", .val = "{}", .vlen = 2};

static void test_committer_retries_exhausted(void **state)
{
        (void)state;
        struct script sc = {.dflt = {[K_PRODUCE] = 'r'}};
        struct sl_committer c;
        sl_committer_init(&c, &sc_ops, &sc);
        c.max_retries = 3;
        assert_int_equal(sl_committer_assign(&c, 0, 0, -1), 0);
        sl_committer_pushed(&c, 0, 0);
        /* 1 + 3 attempts, then the transaction is aborted */
        assert_int_equal(sl_committer_row(&c, &one_row), SL_TXN_ABORT);
        assert_string_equal(sc.log, "BPPPPA");
        assert_false(c.open);
        assert_int_equal(c.stats.retries, 3);
        assert_int_equal(c.stats.aborts, 1);
        assert_int_equal(c.stats.rows, 0);
        assert_non_null(strstr(c.err, "produce: retriable error"));

        /* The same for a commit that keeps timing out: aborted, nothing committed. */
        sc = (struct script){.dflt = {[K_COMMIT] = 'r'}};
        sl_committer_rewind(&c);
        sl_committer_pushed(&c, 0, 4);
        assert_int_equal(sl_committer_row(&c, &one_row), SL_TXN_OK);
        sl_committer_cut(&c);
        assert_int_equal(sl_committer_commit(&c), SL_TXN_ABORT);
        assert_string_equal(sc.log, "BPOCCCCA");
        assert_int_equal(c.parts[0].committed, -1);
        assert_non_null(strstr(c.err, "commit transaction: retriable error"));

        /* Retries within the budget are invisible. */
        sc = (struct script){.ans = {[K_BEGIN] = "rr", [K_PRODUCE] = "rrr", [K_COMMIT] = "r"}};
        sl_committer_rewind(&c);
        sl_committer_pushed(&c, 0, 4);
        assert_int_equal(sl_committer_row(&c, &one_row), SL_TXN_OK);
        sl_committer_cut(&c);
        assert_int_equal(sl_committer_commit(&c), SL_TXN_OK);
        assert_string_equal(sc.log, "BBBPPPPOCC");
        assert_int_equal(c.parts[0].committed, 5);
        sl_committer_fini(&c);
}

static void test_committer_abort_fails(void **state)
{
        (void)state;
        static const struct {
                const char *abort;
                char dflt;
                const char *log;
        } cases[] = {
                {"f", 0, "BPA"},        /* abort fenced */
                {"a", 0, "BPA"},        /* abort itself abortable */
                {NULL, 'r', "BPAAA"},   /* abort retries exhausted */
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                struct script sc = {.ans = {[K_PRODUCE] = "a", [K_ABORT] = cases[i].abort},
                                    .dflt = {[K_ABORT] = cases[i].dflt}};
                struct sl_committer c;
                sl_committer_init(&c, &sc_ops, &sc);
                c.max_retries = 2;
                assert_int_equal(sl_committer_assign(&c, 0, 0, 3), 0);
                sl_committer_pushed(&c, 0, 3);
                assert_int_equal(sl_committer_row(&c, &one_row), SL_TXN_FATAL);
                assert_string_equal(sc.log, cases[i].log);
                assert_non_null(strstr(c.err, "abort transaction"));
                sl_committer_fini(&c);
        }
        /* A commit failure whose abort fails is fatal too; a fatal commit
         * is returned as is, without an abort. */
        struct script sc = {.ans = {[K_COMMIT] = "a", [K_ABORT] = "f"}};
        struct sl_committer c;
        sl_committer_init(&c, &sc_ops, &sc);
        assert_int_equal(sl_committer_assign(&c, 0, 0, -1), 0);
        sl_committer_pushed(&c, 0, 0);
        sl_committer_cut(&c);
        assert_int_equal(sl_committer_commit(&c), SL_TXN_FATAL);
        assert_string_equal(sc.log, "BOCA");
        sl_committer_fini(&c);
        sc = (struct script){.ans = {[K_OFFSETS] = "f"}};
        sl_committer_init(&c, &sc_ops, &sc);
        assert_int_equal(sl_committer_assign(&c, 0, 0, -1), 0);
        sl_committer_pushed(&c, 0, 0);
        sl_committer_cut(&c);
        assert_int_equal(sl_committer_commit(&c), SL_TXN_FATAL);
        assert_string_equal(sc.log, "BO");
        assert_int_equal(c.parts[0].committed, -1);
        sl_committer_fini(&c);
}

static void test_committer_nothing_to_commit(void **state)
{
        (void)state;
        struct script sc = {0};
        struct sl_committer c;
        sl_committer_init(&c, &sc_ops, &sc);
        assert_int_equal(sl_committer_assign(&c, 0, 0, -1), 0);
        assert_int_equal(sl_committer_assign(&c, 0, 1, 10), 1);
        /* nothing read */
        sl_committer_cut(&c);
        assert_int_equal(sl_committer_commit(&c), SL_TXN_OK);
        /* replaying below the committed offset */
        for (int64_t o = 0; o < 6; o++)
                sl_committer_pushed(&c, 1, o);
        sl_committer_cut(&c);
        assert_int_equal(sl_committer_commit(&c), SL_TXN_OK);
        assert_string_equal(sc.log, "");
        assert_int_equal(c.stats.txns, 0);
        assert_int_equal(c.parts[1].committed, 10);
        /* progress on p0 only: its offset alone is sent */
        sl_committer_pushed(&c, 0, 0);
        sl_committer_cut(&c);
        assert_int_equal(sl_committer_commit(&c), SL_TXN_OK);
        assert_string_equal(sc.log, "BOC");
        assert_int_equal(sc.nsent, 1);
        assert_int_equal(sc.sent[0].partition, 0);
        assert_int_equal(sc.sent[0].offset, 1);
        assert_int_equal(c.parts[0].committed, 1);
        assert_int_equal(c.parts[1].committed, 10);
        assert_int_equal(c.stats.txns, 1);
        sl_committer_fini(&c);
}

static void test_committer_rewind(void **state)
{
        (void)state;
        struct script sc = {.ans = {[K_COMMIT] = "oroa"}};
        struct sl_committer c;
        sl_committer_init(&c, &sc_ops, &sc);
        assert_int_equal(sl_committer_assign(&c, 0, 0, -1), 0);
        assert_int_equal(sl_committer_assign(&c, 0, 1, 7), 1);
        assert_int_equal(sl_committer_assign(&c, 1, 0, -1), 2); /* never read */
        sl_committer_pushed(&c, 0, 4);
        sl_committer_pushed(&c, 1, 9);
        assert_int_equal(sl_committer_row(&c, &one_row), SL_TXN_OK);
        sl_committer_cut(&c);
        assert_int_equal(sl_committer_commit(&c), SL_TXN_OK);
        assert_int_equal(c.parts[0].committed, 5);
        assert_int_equal(c.parts[1].committed, 10);
        /* a commit whose reply was lost, retried: committed once */
        sl_committer_pushed(&c, 0, 6);
        sl_committer_cut(&c);
        assert_int_equal(sl_committer_commit(&c), SL_TXN_OK);
        assert_int_equal(c.parts[0].committed, 7);
        assert_int_equal(c.stats.txns, 2);
        /* more read, rows made, then the commit fails: aborted */
        sl_committer_pushed(&c, 0, 11);
        sl_committer_pushed(&c, 1, 20);
        assert_int_equal(sl_committer_row(&c, &one_row), SL_TXN_OK);
        sl_committer_cut(&c);
        sl_committer_pushed(&c, 0, 12); /* read after the cut */
        assert_int_equal(sl_committer_commit(&c), SL_TXN_ABORT);
        assert_string_equal(sc.log, "BPOCBOCCBPOCA");
        assert_false(c.open);
        assert_int_equal(c.parts[0].committed, 7);
        assert_int_equal(c.parts[1].committed, 10);
        sl_committer_rewind(&c);
        /* The partition never read may say committed 0 instead of -1 once
         * a commit went through: both mean "from the start". */
        const int64_t want[3][3] = {{7, 7, 7}, {10, 10, 10}, {0, 0, 0}};
        for (int i = 0; i < 3; i++) {
                assert_int_equal(c.parts[i].committed < 0 ? 0 : c.parts[i].committed,
                                 want[i][0]);
                assert_int_equal(c.parts[i].cut, want[i][1]);
                assert_int_equal(c.parts[i].pushed, want[i][2]);
        }
        /* after the rewind, a commit with nothing new does nothing */
        assert_int_equal(sl_committer_commit(&c), SL_TXN_OK);
        assert_string_equal(sc.log, "BPOCBOCCBPOCA");
        sl_committer_fini(&c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_committer_retries_exhausted),
                cmocka_unit_test(test_committer_abort_fails),
                cmocka_unit_test(test_committer_nothing_to_commit),
                cmocka_unit_test(test_committer_rewind),
                cmocka_unit_test(test_sim_exactly_once),
                cmocka_unit_test(test_sim_at_least_once),
                cmocka_unit_test(test_sim_checkpoints),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
