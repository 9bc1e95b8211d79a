/* pane-stack: the whole series of NMR spectra of the run at once, as a heat map (time down, ppm
 * across and decreasing to the right) or as a waterfall of the newest spectra.
 *
 * The run keeps only its newest run_keep_arrays spectra in memory, so the pane keeps its own
 * history: every spectrum, as it is appended, is binned to at most STACK_COLS columns over the
 * full ppm range, keeping both the maximum (peaks survive binning: what the heat map shows by
 * default) and the mean (noise averages out) of each bin. Binning by index rather than by ppm
 * lets re-referencing move the axis under the history without rebinning; zooming into 350..100
 * ppm of a 64k spectrum still has ~500 of the 2048 columns to show.
 *
 * Memory: 2 x 8 bytes per bin and row, so the 600 spectra of a 48 h run at SI 64k take
 * 600 x 2048 x 16 B = 19.7 MB (the spectra themselves would be 315 MB). It is bounded: at
 * STACK_ROWS rows, neighbouring rows merge pairwise (max of maxima, weighted mean of means),
 * halving the time resolution of the older part, so the history never exceeds
 * 1024 x 2048 x 16 B = 32 MiB however long the run. */
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

#define STACK_COLS 2048
#define STACK_ROWS 1024
#define STACK_LINES 8           /* spectra in the waterfall by default */
#define STACK_MAX_LINES 64

struct stack_pane {
    struct plot *pl;
    struct run *run;
    double home[2], view[2];    /* {high, low} ppm; NAN: the full range */
    int waterfall, lines, mean;
    /* the history */
    size_t si, cols;            /* points per spectrum, bins per row */
    size_t rows, cap;
    double *vmax, *vmean;       /* rows x cols, row-major */
    double *hours;              /* run time of each row's (first) spectrum */
    unsigned *nspec;            /* spectra merged into each row */
    size_t next;                /* the next record of the nmr table to take */
    size_t spectra, missed;     /* taken, and gone from memory before the pane saw them */
    /* scratch for drawing */
    double *xcol;               /* ppm of each bin */
    double *wx, *wy, *nx, *ny;  /* waterfall: older spectra (NaN-separated), the newest */
    size_t wcap;
};

static int stack_init(struct pane *p)
{
    struct stack_pane *st = util_calloc(1, sizeof *st);
    st->pl = plot_new();
    st->home[0] = st->home[1] = st->view[0] = st->view[1] = NAN;
    st->lines = STACK_LINES;
    plot_set_xreverse(st->pl, 1);
    p->state = st;
    return 0;
}

static void stack_forget(struct stack_pane *st)
{
    free(st->vmax);
    free(st->vmean);
    free(st->hours);
    free(st->nspec);
    st->vmax = st->vmean = st->hours = NULL;
    st->nspec = NULL;
    st->rows = st->cap = st->si = st->cols = 0;
    st->next = st->spectra = st->missed = 0;
}

static void stack_free(struct pane *p)
{
    struct stack_pane *st = p->state;
    if (st->run)
        run_unobserve(st->run, p);
    stack_forget(st);
    plot_free(st->pl);
    free(st->xcol);
    free(st->wx);
    free(st->wy);
    free(st->nx);
    free(st->ny);
    free(st);
}

static struct run_table *stack_table(const struct run *r, int *field)
{
    struct run_table *t = r ? run_table_find(r, "nmr", "time") : NULL;
    *field = t ? run_field_index(t, "spectrum") : -1;
    return *field >= 0 && t->fields[*field].dim ? t : NULL;
}

/* Bin J covers the points [stack_edge(J), stack_edge(J + 1)). */
static size_t stack_edge(const struct stack_pane *st, size_t j)
{
    return j * st->si / st->cols;
}

/* Halve the rows: each pair becomes one row. */
static void stack_merge(struct stack_pane *st)
{
    size_t out = 0;
    for (size_t r = 0; r < st->rows; r += 2, out++) {
        double *mx = st->vmax + out * st->cols, *mn = st->vmean + out * st->cols;
        const double *ax = st->vmax + r * st->cols, *an = st->vmean + r * st->cols;
        unsigned na = st->nspec[r], nb = r + 1 < st->rows ? st->nspec[r + 1] : 0;
        const double *bx = nb ? st->vmax + (r + 1) * st->cols : NULL;
        const double *bn = nb ? st->vmean + (r + 1) * st->cols : NULL;
        for (size_t j = 0; j < st->cols; j++) {
            double a = an[j], b = bn ? bn[j] : NAN;
            mx[j] = bx ? fmax(ax[j], bx[j]) : ax[j];   /* fmax skips a NaN */
            mn[j] = isnan(b) ? a : isnan(a) ? b : (a * na + b * nb) / (na + nb);
        }
        st->hours[out] = st->hours[r];
        st->nspec[out] = na + nb;
    }
    st->rows = out;
}

/* Bin record I of the nmr table into a new row of the history. */
static void stack_take(struct stack_pane *st, struct run_table *t, int f, size_t i)
{
    const double *a = run_get_array(t, f, i);
    if (!a) {
        st->missed++;
        return;
    }
    size_t si = t->fields[f].len;
    if (si != st->si) {
        /* a new table (a new run): the old rows have other columns */
        size_t next = st->next, spectra = st->spectra, missed = st->missed;
        stack_forget(st);
        st->next = next, st->spectra = spectra, st->missed = missed;
        st->si = si;
        st->cols = si < STACK_COLS ? si : STACK_COLS;
    }
    if (st->rows == STACK_ROWS)
        stack_merge(st);
    if (st->rows == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 64;
        if (st->cap > STACK_ROWS)
            st->cap = STACK_ROWS;
        st->vmax = util_reallocarray(st->vmax, st->cap * st->cols, sizeof *st->vmax);
        st->vmean = util_reallocarray(st->vmean, st->cap * st->cols, sizeof *st->vmean);
        st->hours = util_reallocarray(st->hours, st->cap, sizeof *st->hours);
        st->nspec = util_reallocarray(st->nspec, st->cap, sizeof *st->nspec);
    }
    double *mx = st->vmax + st->rows * st->cols, *mn = st->vmean + st->rows * st->cols;
    for (size_t j = 0; j < st->cols; j++) {
        double m = -INFINITY, sum = 0;
        size_t n = 0;
        for (size_t k = stack_edge(st, j); k < stack_edge(st, j + 1); k++)
            if (isfinite(a[k])) {
                m = a[k] > m ? a[k] : m;
                sum += a[k];
                n++;
            }
        mx[j] = n ? m : NAN;
        mn[j] = n ? sum / (double)n : NAN;
    }
    st->hours[st->rows] = t->time[i] / 3600;
    st->nspec[st->rows] = 1;
    st->rows++;
    st->spectra++;
}

/* Take every record appended since the last call that memory still holds. */
static void stack_catch_up(struct stack_pane *st)
{
    int f;
    struct run_table *t = stack_table(st->run, &f);
    if (!t)
        return;
    for (; st->next < t->nrec; st->next++)
        stack_take(st, t, f, st->next);
}

/* Each spectrum is binned as it is appended, so that none is lost while the pane is hidden or
 * the screen redraws less often than spectra arrive. */
static int stack_on_record(void *arg, struct run_table *t, size_t i, double time,
                           const union run_value *v)
{
    struct pane *p = arg;
    struct stack_pane *st = p->state;
    int f;
    if (t == stack_table(st->run, &f))
        stack_catch_up(st);
    return 0;
}

static void stack_attach(struct pane *p, struct run *r)
{
    struct stack_pane *st = p->state;
    if (st->run)
        run_unobserve(st->run, p);
    if (r != st->run)
        stack_forget(st);
    st->run = r;
    if (r) {
        struct run_observer o = { .arg = p, .record = stack_on_record };
        run_observe(r, &o);
        stack_catch_up(st);
    }
    pane_dirty(p);
}

/* The ppm of every bin from the current axis (re-referencing may have moved it). */
static int stack_axis(struct stack_pane *st)
{
    const struct run_axis *ax = run_axis_find(st->run, "nmr", "ppm");
    if (!ax || ax->len != st->si)
        return -1;
    st->xcol = util_reallocarray(st->xcol, st->cols, sizeof *st->xcol);
    for (size_t j = 0; j < st->cols; j++)
        st->xcol[j] = (ax->values[stack_edge(st, j)] + ax->values[stack_edge(st, j + 1) - 1]) / 2;
    return 0;
}

/* The range in force, {high, low}: the view, else the span of the bins. */
static void stack_range(const struct stack_pane *st, double *hi, double *lo)
{
    if (isfinite(st->view[0])) {
        *hi = st->view[0];
        *lo = st->view[1];
    } else if (st->cols && st->xcol) {
        *hi = fmax(st->xcol[0], st->xcol[st->cols - 1]);
        *lo = fmin(st->xcol[0], st->xcol[st->cols - 1]);
    } else {
        *hi = *lo = NAN;
    }
}

/* Extent of the history in rows R0.. over the bins in view; 0 when there is nothing. */
static int stack_extent(const struct stack_pane *st, const double *m, size_t r0, double *vlo,
                        double *vhi)
{
    double hi, lo;
    stack_range(st, &hi, &lo);
    int have = 0;
    for (size_t j = 0; j < st->cols; j++) {
        if (!(st->xcol[j] <= hi && st->xcol[j] >= lo))
            continue;
        for (size_t r = r0; r < st->rows; r++) {
            double v = m[r * st->cols + j];
            if (!isfinite(v))
                continue;
            if (!have || v < *vlo)
                *vlo = v;
            if (!have || v > *vhi)
                *vhi = v;
            have = 1;
        }
    }
    return have;
}

static void stack_set_view(struct stack_pane *st)
{
    if (isfinite(st->view[0]))
        plot_set_xrange(st->pl, st->view[1], st->view[0]);
    else
        plot_reset(st->pl, PLOT_X);
}

static void stack_draw_heat(struct stack_pane *st, struct canvas *c, int x, int y, int w, int h)
{
    const double *m = st->mean ? st->vmean : st->vmax;
    plot_clear_series(st->pl);
    plot_set_heat(st->pl, m, st->rows, st->cols, st->xcol, st->hours);
    plot_set_heat_agg(st->pl, st->mean ? PLOT_HEAT_MEAN : PLOT_HEAT_MAX);
    /* The colour scale spans what is in view: a big line outside the zoom (the electrolyte at
     * 0 ppm) must not wash out the lines being watched. */
    double lo = 0, hi = 0;
    if (stack_extent(st, m, 0, &lo, &hi))
        plot_set_zrange(st->pl, lo, hi);
    else
        plot_set_zrange(st->pl, NAN, NAN);
    stack_set_view(st);
    plot_reset(st->pl, PLOT_Y);
    plot_set_ylabel(st->pl, "time", "h");
    char title[128];
    int n = snprintf(title, sizeof title, "%zu spectr%s, %s", st->spectra,
                     st->spectra == 1 ? "um" : "a", st->mean ? "bin mean" : "bin max");
    if (st->missed)
        snprintf(title + n, sizeof title - (size_t)n, ", %zu before the pane", st->missed);
    plot_set_title(st->pl, title);
    plot_draw(st->pl, c, x, y, w, h);
}

static void stack_draw_waterfall(struct stack_pane *st, struct canvas *c, int x, int y, int w,
                                 int h)
{
    const double *m = st->mean ? st->vmean : st->vmax;
    size_t n = (size_t)st->lines < st->rows ? (size_t)st->lines : st->rows, r0 = st->rows - n;
    double lo = 0, hi = 1;
    if (!stack_extent(st, m, r0, &lo, &hi) || hi <= lo)
        hi = lo + 1;
    /* About 3.5 spans high whatever the count: a peak rises over two or three older traces. */
    double d = (hi - lo) * 2.5 / (double)n;
    size_t need = n * (st->cols + 1);
    if (need > st->wcap) {
        st->wcap = need;
        st->wx = util_reallocarray(st->wx, need, sizeof *st->wx);
        st->wy = util_reallocarray(st->wy, need, sizeof *st->wy);
        st->nx = util_reallocarray(st->nx, need, sizeof *st->nx);
        st->ny = util_reallocarray(st->ny, need, sizeof *st->ny);
    }
    /* Time runs down as in the heat map: the oldest shown is highest, the newest at the foot. */
    size_t k = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        const double *row = m + (r0 + i) * st->cols;
        double off = (double)(n - 1 - i) * d;
        for (size_t j = 0; j < st->cols; j++, k++) {
            st->wx[k] = st->xcol[j];
            st->wy[k] = row[j] + off;
        }
        st->wx[k] = NAN;   /* breaks the line between spectra */
        st->wy[k++] = NAN;
    }
    plot_clear_series(st->pl);
    plot_set_mode(st->pl, PLOT_LINES);
    /* In ASCII, two series would turn the lines into markers; one reads better there. */
    int split = c->utf8;
    const double *newest = m + (st->rows - 1) * st->cols;
    if (split) {
        if (k)
            plot_add_series(st->pl, "older", CANVAS_AXIS, st->wx, st->wy, k);
        plot_add_series(st->pl, "newest", CANVAS_SERIES1, st->xcol, newest, st->cols);
    } else {
        for (size_t j = 0; j < st->cols; j++, k++) {
            st->wx[k] = st->xcol[j];
            st->wy[k] = newest[j];
        }
        plot_add_series(st->pl, "spectra", CANVAS_SERIES1, st->wx, st->wy, k);
    }
    plot_set_legend(st->pl, 0);
    stack_set_view(st);
    plot_reset(st->pl, PLOT_Y);
    plot_set_ylabel(st->pl, "intensity, offset", "");
    char title[128];
    int len = snprintf(title, sizeof title, "last %zu of %zu spectra (%.3g..%.3g h)", n,
                       st->spectra, st->hours[r0], st->hours[st->rows - 1]);
    if (st->missed)
        snprintf(title + len, sizeof title - (size_t)len, ", %zu before the pane", st->missed);
    plot_set_title(st->pl, title);
    plot_draw(st->pl, c, x, y, w, h);
}

static void stack_draw(struct pane *p, struct canvas *c, int x, int y, int w, int h)
{
    struct stack_pane *st = p->state;
    if (!st->run) {
        canvas_text(c, x + 2, y + 1, "no run: `run start` begins one",
                    CANVAS_AXIS);
        return;
    }
    stack_catch_up(st);
    if (!st->rows) {
        canvas_text(c, x + 2, y + 1, "waiting for the first spectrum (group nmr)", CANVAS_AXIS);
        return;
    }
    if (stack_axis(st) < 0) {
        canvas_text(c, x + 2, y + 1, "waiting for the ppm axis of group nmr", CANVAS_AXIS);
        return;
    }
    /* In a small pane the data gets the row: the ticks say ppm anyway. */
    plot_set_xlabel(st->pl, h >= 14 ? "shift" : NULL, h >= 14 ? "ppm" : NULL);
    if (st->waterfall)
        stack_draw_waterfall(st, c, x, y, w, h);
    else
        stack_draw_heat(st, c, x, y, w, h);
}

/* Zoom by FACTOR (> 1: in) about the centre, or pan by FRAC of the range (> 0: to the right,
 * to lower ppm). */
static void stack_zoom(struct stack_pane *st, double factor, double frac)
{
    double hi, lo;
    stack_range(st, &hi, &lo);
    if (!isfinite(hi))
        return;
    double c = (hi + lo) / 2 - frac * (hi - lo), half = (hi - lo) / 2 / factor;
    st->view[0] = c + half;
    st->view[1] = c - half;
}

static int stack_key(struct pane *p, int key)
{
    struct stack_pane *st = p->state;
    switch (key) {
    case 'w': st->waterfall = !st->waterfall; break;
    case 'b': st->mean = !st->mean; break;
    case '+': case '=': stack_zoom(st, 2, 0); break;
    case '-': stack_zoom(st, 0.5, 0); break;
    case KEYS_LEFT: case 'h': stack_zoom(st, 1, -0.2); break;
    case KEYS_RIGHT: case 'l': stack_zoom(st, 1, 0.2); break;
    case '0':
        st->view[0] = st->home[0];
        st->view[1] = st->home[1];
        break;
    case ']': st->lines = st->lines < STACK_MAX_LINES ? st->lines + 1 : st->lines; break;
    case '[': st->lines = st->lines > 1 ? st->lines - 1 : 1; break;
    default: return 0;
    }
    pane_dirty(p);
    return 1;
}

static int stack_configure(struct pane *p, int argc, const struct word *argv, char *err,
                           size_t errlen)
{
    struct stack_pane *st = p->state;
    double zoom[2] = { st->home[0], st->home[1] };
    int waterfall = st->waterfall, lines = st->lines, mean = st->mean;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i].text;
        char *end;
        if (util_startswith(s, "zoom=")) {
            if (pane_ppm_range(s + 5, zoom, err, errlen) < 0)
                return -1;
        } else if (!strcmp(s, "mode=heat") || !strcmp(s, "mode=waterfall")) {
            waterfall = !strcmp(s, "mode=waterfall");
        } else if (!strcmp(s, "bin=max") || !strcmp(s, "bin=mean")) {
            mean = !strcmp(s, "bin=mean");
        } else if (util_startswith(s, "lines=")) {
            long n = strtol(s + 6, &end, 10);
            if (end == s + 6 || *end || n < 1 || n > STACK_MAX_LINES) {
                snprintf(err, errlen, "\"%s\": lines= is 1 to %d spectra", s, STACK_MAX_LINES);
                return -1;
            }
            lines = (int)n;
        } else {
            snprintf(err, errlen, "\"%s\": a stack pane takes zoom=FROM,TO (e.g. "
                     "zoom=350ppm,100ppm, or full), mode=heat|waterfall, lines=N, bin=max|mean", s);
            return -1;
        }
    }
    st->home[0] = st->view[0] = zoom[0];
    st->home[1] = st->view[1] = zoom[1];
    st->waterfall = waterfall;
    st->lines = lines;
    st->mean = mean;
    pane_dirty(p);
    return 0;
}

static void stack_describe(struct pane *p, struct strbuf *out)
{
    struct stack_pane *st = p->state;
    pane_ppm_describe(st->home, out);
    if (st->waterfall)
        strbuf_addstr(out, " mode=waterfall");
    if (st->lines != STACK_LINES)
        strbuf_printf(out, " lines=%d", st->lines);
    if (st->mean)
        strbuf_addstr(out, " bin=mean");
}

const struct pane_type pane_stack_type = {
    .name = "stack",
    .help = "every NMR spectrum of the run: heat map (time down) or waterfall, ppm decreasing",
    .keyhelp = "  w  heat map/waterfall   b  bin max/mean   [ ]  fewer/more spectra\n"
               "  +/-  zoom    Left/Right h/l  pan    0  back to the `zoom` range",
    .titled = 1,
    .init = stack_init,
    .free = stack_free,
    .draw = stack_draw,
    .key = stack_key,
    .attach = stack_attach,
    .configure = stack_configure,
    .describe = stack_describe,
};
