/*
 * window.c - validation and derived sizes of a window definition.
 *
 * The bound on live panes per key: at stream time st a live pane p holds
 * data (so p * P <= st) and has a window still open, whose start is at most
 * p * P, so p * P + size + grace > st.  Hence at most
 * ceil((size + grace) / P) panes are live at once, which sizes the per-key
 * pane ring exactly (tumbling, no grace: one pane).
 */
#include <errno.h>
#include <stdio.h>

#include "engine/window.h"

static int64_t gcd64(int64_t a, int64_t b)
{
        while (b) {
                int64_t t = a % b;
                a = b;
                b = t;
        }
        return a;
}

/*
 * A session window: size = advance = pane = the gap, and max_panes the
 * sessions a key can hold at once.  A session is open while its end E
 * (last record) has E + gap + grace > st, and every record is at or before
 * st, so open ends lie in (st - gap - grace, st]; two sessions of a key are
 * more than gap apart (else a record would have merged them), so at most
 * ceil((gap + grace) / gap) are open: one without grace.
 */
static int session_init(struct sl_window *w, const struct sl_window_def *def,
                        char *err, size_t errlen)
{
        w->size = w->advance = w->pane = def->size_ms;
        w->grace = def->grace_ms;
        w->pane_per_window = 1;
        if (w->size <= 0 || w->size > SL_TS_MAX / 4) {
                snprintf(err, errlen, "SESSION gap must be between 1 ms and %lld ms",
                         (long long)(SL_TS_MAX / 4));
                return -EINVAL;
        }
        if (w->grace < 0 || w->grace > SL_TS_MAX / 4) {
                snprintf(err, errlen, "GRACE PERIOD out of range");
                return -EINVAL;
        }
        int64_t live = (w->size + w->grace + w->size - 1) / w->size;
        if (live > SL_MAX_SESSIONS) {
                snprintf(err, errlen,
                         "this SESSION window keeps up to %lld sessions per key "
                         "(ceil((gap + grace) / gap)); at most %d are supported: "
                         "shorten the GRACE PERIOD or widen the gap",
                         (long long)live, SL_MAX_SESSIONS);
                return -EINVAL;
        }
        w->max_panes = (uint32_t)live;
        return 0;
}

int sl_window_init(struct sl_window *w, const struct sl_window_def *def,
                   char *err, size_t errlen)
{
        *w = (struct sl_window){.kind = def->kind};
        if (def->kind == SL_WIN_NONE) {
                w->pane_per_window = 1;
                w->max_panes = 1;
                return 0;
        }
        if (def->kind == SL_WIN_SESSION)
                return session_init(w, def, err, errlen);
        w->size = def->size_ms;
        w->advance = def->kind == SL_WIN_HOPPING ? def->advance_ms : def->size_ms;
        w->grace = def->grace_ms;
        if (w->size <= 0 || w->size > SL_TS_MAX / 4) {
                snprintf(err, errlen, "window SIZE must be between 1 ms and %lld ms",
                         (long long)(SL_TS_MAX / 4));
                return -EINVAL;
        }
        if (w->advance <= 0 || w->advance > w->size) {
                snprintf(err, errlen,
                         "ADVANCE BY must be greater than 0 and at most the window SIZE");
                return -EINVAL;
        }
        if (w->grace < 0 || w->grace > SL_TS_MAX / 4) {
                snprintf(err, errlen, "GRACE PERIOD out of range");
                return -EINVAL;
        }
        w->pane = gcd64(w->size, w->advance);
        w->pane_per_window = (uint32_t)(w->size / w->pane);
        int64_t live = (w->size + w->grace + w->pane - 1) / w->pane;
        if (live > SL_MAX_PANES) {
                snprintf(err, errlen,
                         "this window keeps %lld panes of %lld ms per key "
                         "(size + grace over gcd(size, advance)); at most %d are supported",
                         (long long)live, (long long)w->pane, SL_MAX_PANES);
                return -EINVAL;
        }
        w->max_panes = (uint32_t)live;
        return 0;
}
