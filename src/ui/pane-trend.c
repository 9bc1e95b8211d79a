/* pane-trend: the NMR engine's region integrals and fitted peak areas (integral_<name> of group
 * nmr) against time or against the charge passed, optionally relative to the first spectrum:
 * the quantity in-situ NMR of metal cells is about (bulk metal falling, microstructure growing).
 *
 * The engine adds integral fields during the run (a region defined later, a fit that starts
 * converging), so the fields are looked up by name at every draw, never kept. Scalars keep
 * their whole history in the run, so the series are rebuilt from the table each time: a few
 * thousand records at most. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insitu/canvas.h"
#include "insitu/desk.h"
#include "insitu/keys.h"
#include "insitu/pane.h"
#include "insitu/parse.h"
#include "insitu/plot.h"
#include "insitu/run.h"
#include "insitu/util.h"

#define TREND_MAX PLOT_MAX_SERIES

struct trend_series {
    double *x, *y;
    size_t cap;
};

struct trend_pane {
    struct plot *pl;
    struct run *run;
    int charge;                 /* x is the charge passed, else time */
    int norm;                   /* values relative to the first finite one */
    int nnames;                 /* configured names; 0: every integral_ field */
    char *names[TREND_MAX];
    struct trend_series s[TREND_MAX];
};

static int trend_init(struct pane *p)
{
    struct trend_pane *st = util_calloc(1, sizeof *st);
    st->pl = plot_new();
    p->state = st;
    return 0;
}

static void trend_free(struct pane *p)
{
    struct trend_pane *st = p->state;
    for (int i = 0; i < TREND_MAX; i++) {
        free(st->names[i]);
        free(st->s[i].x);
        free(st->s[i].y);
    }
    plot_free(st->pl);
    free(st);
}

static void trend_attach(struct pane *p, struct run *r)
{
    struct trend_pane *st = p->state;
    st->run = r;
    plot_reset(st->pl, PLOT_XY);
    pane_dirty(p);
}

static int trend_is_err(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && !strcmp(name + n - 4, "_err");
}

/* The fields to show: indices into T's fields and the names for the legend. Returns the count;
 * *MISSING gets the first configured name the table does not have (yet). */
static int trend_fields(const struct trend_pane *st, const struct run_table *t, int *field,
                        const char **label, const char **missing)
{
    int n = 0;
    *missing = NULL;
    if (!st->nnames) {
        for (int f = 0; f < t->nfields && n < TREND_MAX; f++) {
            const struct run_field *fd = &t->fields[f];
            if (util_startswith(fd->name, "integral_") && !trend_is_err(fd->name) && !fd->dim &&
                fd->type != RUN_STR) {
                field[n] = f;
                label[n++] = fd->name + 9;
            }
        }
        return n;
    }
    for (int i = 0; i < st->nnames; i++) {
        char full[128];
        snprintf(full, sizeof full, "integral_%s", st->names[i]);
        int f = run_field_index(t, full);
        if (f < 0)
            f = run_field_index(t, st->names[i]);
        if (f < 0 || t->fields[f].dim || t->fields[f].type == RUN_STR) {
            if (!*missing)
                *missing = st->names[i];
            continue;
        }
        field[n] = f;
        label[n++] = st->names[i];
    }
    return n;
}

/* Where x comes from: the fields of the table, resolved once per draw (-1: absent). */
struct trend_xsrc {
    int charge, time_end, q0, q1;
};

/* x of record K: mid-acquisition time in hours, or the mean charge in mA h (NaN without one). */
static double trend_x(const struct trend_xsrc *xs, const struct run_table *t, size_t k)
{
    if (!xs->charge) {
        double te = xs->time_end >= 0 ? run_get_f64(t, xs->time_end, k) : NAN;
        return (isfinite(te) ? (t->time[k] + te) / 2 : t->time[k]) / 3600;
    }
    double a = xs->q0 >= 0 ? run_get_f64(t, xs->q0, k) : NAN;
    double b = xs->q1 >= 0 ? run_get_f64(t, xs->q1, k) : NAN;
    double q = isfinite(a) && isfinite(b) ? (a + b) / 2 : isfinite(a) ? a : b;
    return q * 1000;
}

static void trend_draw(struct pane *p, struct canvas *c, int x, int y, int w, int h)
{
    struct trend_pane *st = p->state;
    if (!st->run) {
        canvas_text(c, x + 2, y + 1, "no run: `run start` begins one",
                    CANVAS_AXIS);
        return;
    }
    struct run_table *t = run_table_find(st->run, "nmr", "time");
    int field[TREND_MAX];
    const char *label[TREND_MAX], *missing = NULL;
    int n = t ? trend_fields(st, t, field, label, &missing) : 0;
    if (!n) {
        char msg[160];
        if (missing)
            snprintf(msg, sizeof msg, "waiting for integral_%s in group nmr", missing);
        else
            snprintf(msg, sizeof msg, "no integrals yet: the NMR engine adds integral_NAME for "
                     "every region and peak");
        canvas_text(c, x + 2, y + 1, msg, CANVAS_AXIS);
        return;
    }
    size_t nrec = t->nrec;
    struct trend_xsrc xs = { st->charge, run_field_index(t, "time_end"),
                             run_field_index(t, "charge_start"), run_field_index(t, "charge_end") };
    struct strbuf sum = { 0 };
    int anyx = 0;
    plot_clear_series(st->pl);
    for (int i = 0; i < n; i++) {
        struct trend_series *s = &st->s[i];
        if (nrec > s->cap) {
            s->cap = nrec + nrec / 2 + 64;
            s->x = util_reallocarray(s->x, s->cap, sizeof *s->x);
            s->y = util_reallocarray(s->y, s->cap, sizeof *s->y);
        }
        double first = NAN, last = NAN;
        for (size_t k = 0; k < nrec; k++) {
            double v = run_get_f64(t, field[i], k);
            if (isfinite(v)) {
                if (isnan(first))
                    first = v;
                last = v;
            }
            s->x[k] = trend_x(&xs, t, k);
            s->y[k] = v;
            anyx |= isfinite(s->x[k]);
        }
        if (st->norm)
            for (size_t k = 0; k < nrec; k++)
                s->y[k] = first != 0 ? s->y[k] / first : NAN;
        plot_add_series(st->pl, label[i], 0, s->x, s->y, nrec);
        /* The legend says what the plot shows; this says by how much. */
        char a[32], b[32];
        pane_format_num(st->norm ? 1.0 : first, a, sizeof a);
        pane_format_num(st->norm ? last / first : last, b, sizeof b);
        strbuf_printf(&sum, "%s%s %s -> %s", i ? "   " : "", label[i], a, b);
        if (isfinite(first) && first != 0 && isfinite(last))
            strbuf_printf(&sum, " %+.0f%%", (last / first - 1) * 100);
    }
    if (missing)
        strbuf_printf(&sum, "   %s: none yet", missing);
    plot_set_legend(st->pl, 1);
    plot_set_xlabel(st->pl, st->charge ? "charge passed" : "time", st->charge ? "mA h" : "h");
    const char *units = t->fields[field[0]].units;
    plot_set_ylabel(st->pl, st->norm ? "integral / first" : "integral",
                    st->norm || !units || !strcmp(units, "1") ? "" : units);
    char title[64];
    snprintf(title, sizeof title, "%zu spectra", nrec);
    plot_set_title(st->pl, title);
    int ph = h >= 5 ? h - 1 : h;
    plot_draw(st->pl, c, x, y, w, ph);
    if (ph < h) {
        if (st->charge && !anyx)
            canvas_text(c, x + 1, y + h - 1, "no charge recorded (no cycler?): x goes back to time",
                        CANVAS_HIGHLIGHT);
        else
            canvas_text(c, x + 1, y + h - 1, sum.s ? sum.s : "", CANVAS_TITLE);
    }
    strbuf_free(&sum);
}

static int trend_key(struct pane *p, int key)
{
    struct trend_pane *st = p->state;
    switch (key) {
    case 'x':
        st->charge = !st->charge;
        plot_reset(st->pl, PLOT_XY);
        break;
    case 'n':
        st->norm = !st->norm;
        plot_reset(st->pl, PLOT_Y);
        break;
    case KEYS_LEFT: case 'h': plot_pan(st->pl, PLOT_X, -0.2); break;
    case KEYS_RIGHT: case 'l': plot_pan(st->pl, PLOT_X, 0.2); break;
    case '+': case '=': plot_zoom(st->pl, PLOT_X, 2.0); break;
    case '-': plot_zoom(st->pl, PLOT_X, 0.5); break;
    case '0': plot_reset(st->pl, PLOT_XY); break;
    default: return 0;
    }
    pane_dirty(p);
    return 1;
}

static int trend_configure(struct pane *p, int argc, const struct word *argv, char *err,
                           size_t errlen)
{
    struct trend_pane *st = p->state;
    int charge = st->charge, norm = st->norm, nnames = 0;
    const char *names[TREND_MAX];
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i].text;
        if (!strcmp(s, "x=time") || !strcmp(s, "x=charge")) {
            charge = !strcmp(s, "x=charge");
        } else if (!strcmp(s, "norm=first") || !strcmp(s, "norm=none")) {
            norm = !strcmp(s, "norm=first");
        } else if (util_valid_name(s) && !strchr(s, '=')) {
            if (nnames == TREND_MAX) {
                snprintf(err, errlen, "at most %d integrals in one trend pane", TREND_MAX);
                return -1;
            }
            names[nnames++] = s;
        } else {
            snprintf(err, errlen, "\"%s\": a trend pane takes integral names (metal for "
                     "integral_metal), x=time|charge and norm=first|none", s);
            return -1;
        }
    }
    if (nnames) {
        for (int i = 0; i < TREND_MAX; i++) {
            free(st->names[i]);
            st->names[i] = i < nnames ? util_strdup(names[i]) : NULL;
        }
        st->nnames = nnames;
    }
    if (charge != st->charge || norm != st->norm)
        plot_reset(st->pl, PLOT_XY);
    st->charge = charge;
    st->norm = norm;
    pane_dirty(p);
    return 0;
}

static void trend_describe(struct pane *p, struct strbuf *out)
{
    struct trend_pane *st = p->state;
    for (int i = 0; i < st->nnames; i++) {
        char *q = parse_quote(st->names[i]);
        strbuf_printf(out, " %s", q);
        free(q);
    }
    if (st->charge)
        strbuf_addstr(out, " x=charge");
    if (st->norm)
        strbuf_addstr(out, " norm=first");
}

const struct pane_type pane_trend_type = {
    .name = "trend",
    .help = "NMR integrals (integral_NAME) against time or charge, optionally relative to the first",
    .keyhelp = "  x  time / charge passed    n  relative to the first on/off\n"
               "  Left/Right h/l  pan    +/-  zoom    0  autoscale",
    .titled = 1,
    .init = trend_init,
    .free = trend_free,
    .draw = trend_draw,
    .key = trend_key,
    .attach = trend_attach,
    .configure = trend_configure,
    .describe = trend_describe,
};
