/* pane-cycler: the galvanostat at a glance: state and step, large V / I / Q readouts, V(t) and
 * I(t), the safety limits and the alarms (compliance, soft short, communication). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insitu/canvas.h"
#include "insitu/cycler.h"
#include "insitu/desk.h"
#include "insitu/ec.h"
#include "insitu/keys.h"
#include "insitu/pane.h"
#include "insitu/plot.h"
#include "insitu/run.h"
#include "insitu/session.h"
#include "insitu/units.h"
#include "insitu/util.h"

struct cyc_pane {
    struct plot *pv, *pi;
    double *t, *v, *i;
    size_t n, cap;
    struct run_table *ec;
    double tscale;
};

static int cyc_init(struct pane *p)
{
    struct cyc_pane *c = util_calloc(1, sizeof *c);
    c->pv = plot_new();
    c->pi = plot_new();
    plot_set_legend(c->pv, 0);
    plot_set_legend(c->pi, 0);
    p->state = c;
    return 0;
}

static void cyc_free(struct pane *p)
{
    struct cyc_pane *c = p->state;
    plot_free(c->pv);
    plot_free(c->pi);
    free(c->t);
    free(c->v);
    free(c->i);
    free(c);
}

static void cyc_attach(struct pane *p, struct run *r)
{
    struct cyc_pane *c = p->state;
    c->ec = NULL;
    c->n = 0;
    plot_reset(c->pv, PLOT_XY);
    plot_reset(c->pi, PLOT_XY);
    pane_dirty(p);
}

/* Copy new ec records (appends only) into the plot buffers. */
static void cyc_update(struct cyc_pane *c, struct run *r)
{
    if (!r)
        return;
    if (!c->ec)
        c->ec = run_table_find(r, "ec", "time");
    if (!c->ec)
        return;
    size_t n = c->ec->nrec;
    double tmax = n ? c->ec->time[n - 1] : 0;
    double scale = tmax > 3 * 3600 ? 3600 : tmax > 180 ? 60 : 1;
    if (scale != c->tscale) {
        c->tscale = scale;
        c->n = 0;
    }
    if (n > c->cap) {
        c->cap = n + n / 2 + 256;
        c->t = util_reallocarray(c->t, c->cap, sizeof *c->t);
        c->v = util_reallocarray(c->v, c->cap, sizeof *c->v);
        c->i = util_reallocarray(c->i, c->cap, sizeof *c->i);
    }
    for (size_t k = c->n; k < n; k++) {
        c->t[k] = c->ec->time[k] / scale;
        c->v[k] = run_get_f64(c->ec, EC_VOLTAGE, k);
        c->i[k] = run_get_f64(c->ec, EC_CURRENT, k);
    }
    c->n = n;
    const char *tu = scale == 3600 ? "h" : scale == 60 ? "min" : "s";
    plot_clear_series(c->pv);
    plot_clear_series(c->pi);
    plot_add_series(c->pv, "V", CANVAS_SERIES(0), c->t, c->v, c->n);
    plot_add_series(c->pi, "I", CANVAS_SERIES(1), c->t, c->i, c->n);
    plot_set_ylabel(c->pv, "voltage", "V");
    plot_set_ylabel(c->pi, "current", "A");
    plot_set_xlabel(c->pv, "", "");
    plot_set_xlabel(c->pi, "time", tu);
}

static void cyc_draw(struct pane *p, struct canvas *cv, int x, int y, int w, int h)
{
    struct cyc_pane *c = p->state;
    struct session *s = p->desk->s;
    struct cycler_view v;
    int have = cycler_view(s, &v);
    char a[64], b[64], q[64], line[256], e[48], r[48];
    unsigned st = CANVAS_TITLE | CANVAS_BOLD;
    if (!have) {
        snprintf(line, sizeof line, "cycler idle: `device add cyc keithley2400 sim:li-li`, then "
                 "`cycler start { cc 500mA until 15h }`");
        canvas_text(cv, x + 1, y, line, CANVAS_AXIS);
    } else {
        snprintf(line, sizeof line, "%s %s", v.device, cycler_state_name(v.state));
        unsigned sst = v.state == CYCLER_TRIPPED || v.state == CYCLER_FAILED ? CANVAS_HIGHLIGHT | CANVAS_BOLD
                     : v.state == CYCLER_RUNNING ? CANVAS_SERIES1 | CANVAS_BOLD : CANVAS_AXIS;
        int cx = x + 1 + canvas_text(cv, x + 1, y, line, sst);
        if (v.step[0]) {
            snprintf(line, sizeof line, "  step %s  %s", v.step,
                     units_format_duration(v.step_elapsed, e, sizeof e));
            cx += canvas_text(cv, cx, y, line, CANVAS_DEFAULT);
            if (v.step_remaining >= 0) {
                snprintf(line, sizeof line, " (%s left)", units_format_duration(v.step_remaining, r, sizeof r));
                canvas_text(cv, cx, y, line, CANVAS_AXIS);
            }
        }
    }
    /* large readouts */
    snprintf(line, sizeof line, "V %s   I %s   Q %s", units_format(v.v, "V", 5, a, sizeof a),
             units_format(v.i, "A", 4, b, sizeof b), units_format(v.q, "Ah", 5, q, sizeof q));
    if (h > 1)
        canvas_text(cv, x + 1, y + 1, line, st);
    /* limits and alarms */
    if (h > 2) {
        snprintf(line, sizeof line, "limits %g..%g V, |I| <= %g A", v.vmin, v.vmax, v.imax);
        int cx = x + 1 + canvas_text(cv, x + 1, y + 2, line, CANVAS_AXIS);
        if (v.compliance)
            cx += canvas_text(cv, cx, y + 2, "  COMPLIANCE", CANVAS_HIGHLIGHT | CANVAS_BOLD);
        if (v.soft_short)
            cx += canvas_text(cv, cx, y + 2, "  SOFT SHORT?", CANVAS_HIGHLIGHT | CANVAS_BOLD);
        if (v.comm_lost && have)
            canvas_text(cv, cx, y + 2, "  COMM LOST", CANVAS_HIGHLIGHT | CANVAS_BOLD);
    }
    int ph = h - 3;
    if (ph < 6 || !s->run)
        return;
    cyc_update(c, s->run);
    if (!c->n) {
        canvas_text(cv, x + 1, y + 4, "no samples yet", CANVAS_AXIS);
        return;
    }
    if (ph < 14) {
        /* no room for two readable plots: the voltage is what tells how the cell is doing */
        plot_set_xlabel(c->pv, "time", c->tscale == 3600 ? "h" : c->tscale == 60 ? "min" : "s");
        plot_draw(c->pv, cv, x, y + 3, w, ph);
        return;
    }
    int h1 = ph / 2;
    plot_draw(c->pv, cv, x, y + 3, w, h1);
    plot_draw(c->pi, cv, x, y + 3 + h1, w, ph - h1);
}

static int cyc_key(struct pane *p, int key)
{
    struct cyc_pane *c = p->state;
    switch (key) {
    case KEYS_LEFT: case 'h': plot_pan(c->pv, PLOT_X, -0.2); plot_pan(c->pi, PLOT_X, -0.2); break;
    case KEYS_RIGHT: case 'l': plot_pan(c->pv, PLOT_X, 0.2); plot_pan(c->pi, PLOT_X, 0.2); break;
    case '+': case '=': plot_zoom(c->pv, PLOT_X, 2); plot_zoom(c->pi, PLOT_X, 2); break;
    case '-': plot_zoom(c->pv, PLOT_X, 0.5); plot_zoom(c->pi, PLOT_X, 0.5); break;
    case '0': plot_reset(c->pv, PLOT_XY); plot_reset(c->pi, PLOT_XY); break;
    default: return 0;
    }
    pane_dirty(p);
    return 1;
}

static void cyc_tick(struct pane *p)
{
    pane_dirty(p);   /* the step's clock */
}

const struct pane_type pane_cycler_type = {
    .name = "cycler",
    .help = "the cycler: state, step, V / I / Q, V(t) and I(t), limits and alarms",
    .keyhelp = "  Left/Right h/l  pan time    +/-  zoom time    0  autoscale",
    .titled = 1,
    .init = cyc_init,
    .free = cyc_free,
    .draw = cyc_draw,
    .key = cyc_key,
    .attach = cyc_attach,
    .tick = cyc_tick,
};
