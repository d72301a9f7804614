/*
 * window.h - window assignment arithmetic: which windows and panes an event
 * time belongs to, and when each closes.
 *
 * Every window kind is reduced to panes.  A pane is an epoch-aligned
 * interval of P = gcd(size, advance) milliseconds; a window [s, s + size)
 * with s a multiple of the advance A is the union of size / P consecutive
 * panes.  Tumbling windows are the case A = size (one pane per window).
 * An unwindowed aggregate is one pane that never closes.
 *
 * A window [s, e) closes (is emitted by EMIT FINAL, and stops accepting
 * records) once stream time >= e + grace.  A pane is freed once the last
 * window containing it has closed.  Every close time is therefore
 * k * A + size + grace for an integer k, the "close index" of the window
 * starting at k * A.
 *
 * A session window (kind SESSION, size = advance = pane = the gap) is not
 * made of panes: a key holds a short sorted list of at most max_panes
 * sessions [first record, last record], merged when a record comes within
 * the gap of two; a session closes once stream time >= last + gap + grace
 * (aggop.c).  The pane functions below do not apply to it.
 *
 * All functions are pure; event times must be within SL_TS_MIN..SL_TS_MAX
 * (checked at decode), which keeps every sum below free of overflow.
 */
#ifndef SL_WINDOW_H
#define SL_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/sql/ast.h"

/* +-2^61 ms is about 73 million years either side of the epoch. */
#define SL_TS_MAX ((int64_t)1 << 61)
#define SL_TS_MIN (-SL_TS_MAX)

/* Limit on panes a key may hold at once (hopping size/gcd, grace/size). */
#define SL_MAX_PANES 4096
/* Limit on open sessions a key may hold at once (ceil((gap + grace) / gap)). */
#define SL_MAX_SESSIONS 256

struct sl_window {
        enum sl_window_kind kind;
        int64_t size;    /* ms; NONE: 0 */
        int64_t advance; /* ms; TUMBLING: size */
        int64_t grace;   /* ms */
        int64_t pane;    /* P = gcd(size, advance) */
        uint32_t pane_per_window;  /* size / P */
        uint32_t max_panes;        /* live panes a key can hold at once;
                                    * SESSION: open sessions */
};

static inline int64_t sl_floordiv(int64_t a, int64_t b)
{
        int64_t q = a / b;
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static inline int64_t sl_floormod(int64_t a, int64_t b)
{
        int64_t m = a % b;
        return m < 0 ? m + b : m;
}

/*
 * Fills w from a parsed window definition.  Returns 0, or -EINVAL with a
 * reason in err when the window needs more than SL_MAX_PANES live panes
 * per key or the advance is not within (0, size].
 */
int sl_window_init(struct sl_window *w, const struct sl_window_def *def,
                   char *err, size_t errlen);

static inline int64_t sl_window_pane_of(const struct sl_window *w, int64_t ts)
{
        return w->kind == SL_WIN_NONE ? 0 : sl_floordiv(ts, w->pane);
}

/* Start of the earliest / latest window containing ts. */
static inline int64_t sl_window_first_start(const struct sl_window *w,
                                            int64_t ts)
{
        return (sl_floordiv(ts - w->size, w->advance) + 1) * w->advance;
}

static inline int64_t sl_window_last_start(const struct sl_window *w,
                                           int64_t ts)
{
        return sl_floordiv(ts, w->advance) * w->advance;
}

static inline int64_t sl_window_close_of(const struct sl_window *w,
                                         int64_t start)
{
        return start + w->size + w->grace;
}

/* Stream time at which pane p can be freed: its last window has closed. */
static inline int64_t sl_window_pane_free_at(const struct sl_window *w,
                                             int64_t p)
{
        return sl_window_close_of(w, sl_window_last_start(w, p * w->pane));
}

/* Close index k of the first close time > st: k * A + size + grace > st. */
static inline int64_t sl_window_next_close_index(const struct sl_window *w,
                                                 int64_t st)
{
        return sl_floordiv(st - w->size - w->grace, w->advance) + 1;
}

#endif
