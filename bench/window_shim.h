/* window_shim.h - see window_shim.c. */
#ifndef SL_BENCH_WINDOW_SHIM_H
#define SL_BENCH_WINDOW_SHIM_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
struct wshim;
/* Plans sql, puts keys user0..user<nkeys-1> into window 0, and builds the
 * update records for the key ranks seq[0, nseq).  NULL with err filled. */
struct wshim *wshim_new(const char *sql, uint32_t nkeys, const uint32_t *seq, uint32_t nseq,
                        char *err, size_t errlen);
void wshim_free(struct wshim *s);
/* Applies update records [pos, pos + n).  0 or -errno. */
int wshim_update(struct wshim *s, uint32_t pos, uint32_t n);
uint32_t wshim_update_len(const struct wshim *s);
/* One record per key into window w; closes window w (EMIT FINAL rows). */
int wshim_fill(struct wshim *s, int64_t w);
int wshim_close(struct wshim *s, int64_t w);
/* Takes the queued output batches out; returns their rows. */
uint64_t wshim_drain(struct wshim *s);
void wshim_stats(const struct wshim *s, uint64_t *keys, uint64_t *bytes);
#ifdef __cplusplus
}
#endif
#endif
