/* pane-status: one line: run, elapsed time, clock speed, instruments, alarms, clock. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "insitu/canvas.h"
#include "insitu/clock.h"
#include "insitu/desk.h"
#include "insitu/device.h"
#include "insitu/pane.h"
#include "insitu/run.h"
#include "insitu/session.h"
#include "insitu/settings.h"
#include "insitu/units.h"

static void status_draw(struct pane *p, struct canvas *c, int x, int y, int w, int h)
{
    struct desk *d = p->desk;
    struct session *s = d->s;
    const char *sep = d->utf8 ? " \xe2\x94\x82 " : " | ";
    char buf[512], el[48];
    unsigned base = CANVAS_TITLE | CANVAS_REVERSE;
    canvas_fill(c, x, y, w, 1, " ", base);
    int cx = x;
    cx += canvas_text(c, cx, y, " insitu", base | CANVAS_BOLD);
    if (s && s->run) {
        snprintf(buf, sizeof buf, "%srun %s %s", sep, s->run->name,
                 units_format_duration(run_time(s->run), el, sizeof el));
        cx += canvas_text(c, cx, y, buf, base | CANVAS_BOLD);
    } else {
        snprintf(buf, sizeof buf, "%sno run", sep);
        cx += canvas_text(c, cx, y, buf, base);
    }
    double sp = clock_speed();
    if (sp != 1) {
        snprintf(buf, sizeof buf, "%sclock x%g", sep, sp);
        cx += canvas_text(c, cx, y, buf, base | CANVAS_BOLD);
    } else {
        snprintf(buf, sizeof buf, "%sclock x1", sep);
        cx += canvas_text(c, cx, y, buf, base);
    }
    if (!s || !device_count(s)) {
        snprintf(buf, sizeof buf, "%sno instruments", sep);
        cx += canvas_text(c, cx, y, buf, base);
    } else {
        cx += canvas_text(c, cx, y, sep, base);
        for (int i = 0; i < device_count(s); i++) {
            struct device *dv = device_at(s, i);
            int ok = dv->state == DEVICE_READY;
            snprintf(buf, sizeof buf, "%s%s %s", i ? " " : "", dv->name, ok ? "ok" : device_state_name(dv->state));
            cx += canvas_text(c, cx, y, buf, ok ? base : CANVAS_HIGHLIGHT | CANVAS_REVERSE | CANVAS_BOLD);
        }
    }
    size_t nerr = s && s->run ? s->run->nerror : 0, nwarn = s && s->run ? s->run->nwarn : 0;
    if (nerr || nwarn) {
        snprintf(buf, sizeof buf, "%s%zu alarm%s, %zu warning%s ", sep, nerr, nerr == 1 ? "" : "s",
                 nwarn, nwarn == 1 ? "" : "s");
        canvas_text(c, cx, y, buf, CANVAS_HIGHLIGHT | CANVAS_REVERSE | CANVAS_BOLD);
    } else {
        snprintf(buf, sizeof buf, "%sno alarms", sep);
        canvas_text(c, cx, y, buf, base);
    }
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char ts[32];
    strftime(ts, sizeof ts, " %H:%M:%S ", &tm);
    canvas_text(c, x + w - (int)strlen(ts), y, ts, base);
}

static void status_tick(struct pane *p)
{
    pane_dirty(p);
}

const struct pane_type pane_status_type = {
    .name = "status",
    .help = "one line: run, elapsed time, clock speed, instruments, alarms",
    .titled = 0,
    .fixed_rows = 1,
    .draw = status_draw,
    .tick = status_tick,
};
