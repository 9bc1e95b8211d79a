/* pane-spectrum: the newest NMR spectrum of the run, intensity against chemical shift with ppm
 * decreasing to the right (the NMR convention, as in TopSpin), over the first spectrum of the
 * run for comparison; the regions and peaks the NMR engine integrates are marked below the
 * axis, a cursor reads out the nearest point, and a ppm zoom (`zoom`, + and -) narrows it to
 * the lines of interest (350..100 ppm for 7Li metal). */
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
#include "insitu/units.h"
#include "insitu/util.h"

struct spec_pane {
    struct plot *pl;
    struct run *run;
    double home[2];         /* {high, low} ppm from configure or `zoom`; NAN: the full range */
    double view[2];         /* what is shown: home, or narrowed by + and -; NAN: full */
    int overlay;            /* show the first spectrum under the newest */
    double cursor;          /* ppm; NAN: not placed yet (goes to the highest point in view) */
    /* Copies, not the run's arrays: keys zoom between draws and the plot reads its data then,
     * while the run's ring of array records may have moved on. */
    double *ppm, *cur, *first;
    size_t n, cap;          /* points of ppm and cur (and first) */
    long cur_rec, first_rec;    /* record numbers of the copies, -1: none */
    double cur_time;
    int have_first;
};

static int spec_init(struct pane *p)
{
    struct spec_pane *st = util_calloc(1, sizeof *st);
    st->pl = plot_new();
    st->home[0] = st->home[1] = st->view[0] = st->view[1] = NAN;
    st->overlay = 1;
    st->cursor = NAN;
    st->cur_rec = st->first_rec = -1;
    plot_set_xreverse(st->pl, 1);
    plot_set_ylabel(st->pl, "intensity", "");
    p->state = st;
    return 0;
}

static struct run_table *spec_table(const struct run *r, int *field)
{
    struct run_table *t = r ? run_table_find(r, "nmr", "time") : NULL;
    *field = t ? run_field_index(t, "spectrum") : -1;
    return *field >= 0 && t->fields[*field].dim ? t : NULL;
}

static void spec_grow(struct spec_pane *st, size_t n)
{
    if (n <= st->cap)
        return;
    st->ppm = util_reallocarray(st->ppm, n, sizeof *st->ppm);
    st->cur = util_reallocarray(st->cur, n, sizeof *st->cur);
    st->first = util_reallocarray(st->first, n, sizeof *st->first);
    st->cap = n;
}

/* Keep the first spectrum of the run, or when the pane came later, the oldest one still in
 * memory (the run keeps only the newest run_keep_arrays spectra). */
static void spec_take_first(struct spec_pane *st, struct run_table *t, int f)
{
    size_t len = t->fields[f].len;
    for (size_t i = t->nrec > t->keep ? t->nrec - t->keep : 0; i < t->nrec; i++) {
        const double *a = run_get_array(t, f, i);
        if (!a)
            continue;
        spec_grow(st, len);
        memcpy(st->first, a, len * sizeof *a);
        st->first_rec = (long)i;
        st->have_first = 1;
        return;
    }
}

/* The first spectrum is copied as it is appended, whether or not the pane is drawn then. */
static int spec_on_record(void *arg, struct run_table *t, size_t i, double time,
                          const union run_value *v)
{
    struct pane *p = arg;
    struct spec_pane *st = p->state;
    int f;
    if (!st->have_first && t == spec_table(st->run, &f))
        spec_take_first(st, t, f);
    return 0;
}

static void spec_attach(struct pane *p, struct run *r)
{
    struct spec_pane *st = p->state;
    if (st->run)
        run_unobserve(st->run, p);
    if (r != st->run) {
        st->have_first = 0;
        st->cur_rec = st->first_rec = -1;
        st->n = 0;
        st->cursor = NAN;
    }
    st->run = r;
    if (r) {
        struct run_observer o = { .arg = p, .record = spec_on_record };
        run_observe(r, &o);
        int f;
        struct run_table *t = spec_table(r, &f);
        if (t && !st->have_first)
            spec_take_first(st, t, f);
    }
    pane_dirty(p);
}

static void spec_free(struct pane *p)
{
    struct spec_pane *st = p->state;
    if (st->run)
        run_unobserve(st->run, p);
    plot_free(st->pl);
    free(st->ppm);
    free(st->cur);
    free(st->first);
    free(st);
}

/* Index of the point nearest to V on the monotonic axis A of N points. */
static size_t spec_nearest(const double *a, size_t n, double v)
{
    if (n < 2)
        return 0;
    int desc = a[n - 1] < a[0];
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (desc ? a[mid] > v : a[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo >= n)
        return n - 1;
    if (lo > 0 && fabs(a[lo - 1] - v) <= fabs(a[lo] - v))
        return lo - 1;
    return lo;
}

/* Bring the copies up to date. Returns 0, or -1 with MSG saying what is missing. */
static int spec_update(struct spec_pane *st, const char **msg)
{
    int f;
    struct run_table *t = spec_table(st->run, &f);
    if (!t || !t->nrec) {
        *msg = "waiting for the first spectrum (group nmr)";
        return -1;
    }
    const struct run_axis *ax = run_axis_find(st->run, "nmr", "ppm");
    if (!ax) {
        *msg = "waiting for the ppm axis of group nmr";
        return -1;
    }
    size_t len = t->fields[f].len, n = ax->len < len ? ax->len : len;
    spec_grow(st, len);
    /* The axis is copied every time: re-referencing replaces its values during a run. */
    memcpy(st->ppm, ax->values, n * sizeof *st->ppm);
    long last = (long)t->nrec - 1;
    if (st->cur_rec != last) {
        const double *a = run_get_array(t, f, (size_t)last);
        if (a) {
            memcpy(st->cur, a, len * sizeof *a);
            st->cur_rec = last;
            st->cur_time = t->time[last];
        }
    }
    if (!st->have_first)
        spec_take_first(st, t, f);
    st->n = n;
    return st->cur_rec >= 0 ? 0 : (*msg = "waiting for a spectrum", -1);
}

/* The ppm range in force: the view, else the span of the axis. */
static void spec_range(const struct spec_pane *st, double *hi, double *lo)
{
    if (isfinite(st->view[0])) {
        *hi = st->view[0];
        *lo = st->view[1];
    } else if (st->n) {
        *hi = fmax(st->ppm[0], st->ppm[st->n - 1]);
        *lo = fmin(st->ppm[0], st->ppm[st->n - 1]);
    } else {
        *hi = *lo = NAN;
    }
}

/* The cursor starts on the highest point of the newest spectrum in view: the line of interest. */
static void spec_place_cursor(struct spec_pane *st)
{
    double hi, lo;
    spec_range(st, &hi, &lo);
    double best = -INFINITY;
    st->cursor = NAN;
    for (size_t i = 0; i < st->n; i++)
        if (st->ppm[i] <= hi && st->ppm[i] >= lo && st->cur[i] > best) {
            best = st->cur[i];
            st->cursor = st->ppm[i];
        }
}

/* Column of shift V relative to the last drawn plot area of AW columns: -1 left of it, AW
 * right of it (also for NaN, which marks nothing). */
static int spec_col(const struct spec_pane *st, double v, int aw)
{
    double xlo, xhi;
    plot_get_ranges(st->pl, &xlo, &xhi, NULL, NULL);
    double k = floor((xhi - v) / (xhi - xlo) * aw);
    return !(k < aw) ? aw : k < 0 ? -1 : (int)k;
}

/* Are the columns [from, to] of the strip free? Marks them taken when TAKE. */
static int spec_cells_free(char *used, int n, int from, int to, int take)
{
    if (from < 0 || to >= n || from > to)
        return 0;
    for (int k = from; k <= to; k++)
        if (used[k])
            return 0;
    if (take)
        memset(used + from, 1, (size_t)(to - from + 1));
    return 1;
}

/* The row under the x axis: peak positions as ^name (the name left of the caret when the right
 * is taken), then region spans as [--name--] in what is left, their name inside, else beside. */
static void spec_draw_marks(struct spec_pane *st, struct canvas *c, int row)
{
    int ax, aw;
    if (plot_area(st->pl, &ax, NULL, &aw, NULL) < 0)
        return;
    const struct run *r = st->run;
    char *used = util_calloc((size_t)aw, 1);   /* strip columns taken, relative to ax */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < r->nattrs; i++) {
            const struct run_attr *a = &r->attrs[i];
            if (!a->group || strcmp(a->group, "nmr") || !a->num)
                continue;
            if (pass == 0 && util_startswith(a->key, "peak_") && a->n >= 1) {
                const char *name = a->key + 5;
                int k = spec_col(st, a->num[0], aw), nl = canvas_strwidth(name);
                unsigned sty = CANVAS_SERIES4 | CANVAS_BOLD;
                if (!spec_cells_free(used, aw, k, k, 1))
                    continue;
                canvas_put(c, ax + k, row, "^", sty);
                if (spec_cells_free(used, aw, k + 1, k + nl, 1))
                    canvas_text(c, ax + k + 1, row, name, sty);
                else if (spec_cells_free(used, aw, k - nl, k - 1, 1))
                    canvas_text(c, ax + k - nl, row, name, sty);
            } else if (pass == 1 && util_startswith(a->key, "region_") && a->n >= 2) {
                const char *name = a->key + 7;
                if (!isfinite(a->num[0]) || !isfinite(a->num[1]))
                    continue;
                int l = spec_col(st, fmax(a->num[0], a->num[1]), aw);
                int rr = spec_col(st, fmin(a->num[0], a->num[1]), aw);
                if (rr < 0 || l >= aw)
                    continue;
                unsigned sty = CANVAS_SERIES3;
                int from = l < 0 ? 0 : l, to = rr >= aw ? aw - 1 : rr, nl = canvas_strwidth(name);
                int mid = (from + to + 1 - nl) / 2;
                int at = nl + 2 <= to - from + 1 && spec_cells_free(used, aw, mid, mid + nl - 1, 1)
                             ? mid
                         : spec_cells_free(used, aw, to + 1, to + nl, 1) ? to + 1
                         : spec_cells_free(used, aw, from - nl, from - 1, 1) ? from - nl : -1;
                if (at >= 0)
                    canvas_text(c, ax + at, row, name, sty);
                for (int k = from; k <= to; k++)
                    if (!used[k])
                        canvas_put(c, ax + k, row, k == l ? "[" : k == rr ? "]" : "-", sty);
            }
        }
    }
    free(used);
}

/* "ppm 245.31  intensity 1.23e5", and the region the cursor is in. */
static void spec_draw_readout(struct spec_pane *st, struct canvas *c, int x, int row, int w)
{
    if (!isfinite(st->cursor) || !st->n)
        return;
    size_t i = spec_nearest(st->ppm, st->n, st->cursor);
    char v[32], line[256];
    pane_format_num(st->cur[i], v, sizeof v);
    int len = snprintf(line, sizeof line, "ppm %.2f  intensity %s", st->ppm[i], v);
    if (st->have_first && st->overlay) {
        pane_format_num(st->first[i], v, sizeof v);
        len += snprintf(line + len, sizeof line - (size_t)len, "  (first %s)", v);
    }
    const struct run *r = st->run;
    for (int k = 0; k < r->nattrs && len < (int)sizeof line - 40; k++) {
        const struct run_attr *a = &r->attrs[k];
        if (a->group && !strcmp(a->group, "nmr") && a->num && a->n >= 2 &&
            util_startswith(a->key, "region_") &&
            st->ppm[i] <= fmax(a->num[0], a->num[1]) && st->ppm[i] >= fmin(a->num[0], a->num[1]))
            len += snprintf(line + len, sizeof line - (size_t)len, "  in %s", a->key + 7);
    }
    canvas_text(c, x + 1, row, line, CANVAS_TITLE);
}

static void spec_draw(struct pane *p, struct canvas *c, int x, int y, int w, int h)
{
    struct spec_pane *st = p->state;
    const char *msg;
    if (!st->run) {
        canvas_text(c, x + 2, y + 1, "no run: `run start` begins one",
                    CANVAS_AXIS);
        return;
    }
    if (spec_update(st, &msg) < 0) {
        canvas_text(c, x + 2, y + 1, msg, CANVAS_AXIS);
        return;
    }
    plot_clear_series(st->pl);
    int two = st->overlay && st->have_first;
    if (two) {
        char label[48];
        snprintf(label, sizeof label, "%s #%ld", st->first_rec ? "oldest kept" : "first",
                 st->first_rec + 1);
        int f0 = plot_add_series(st->pl, label, CANVAS_SERIES2 | CANVAS_DIM, st->ppm, st->first,
                                 st->n);
        plot_set_marker(st->pl, f0, '.');
    }
    char label[48];
    snprintf(label, sizeof label, "latest #%ld", st->cur_rec + 1);
    int s = plot_add_series(st->pl, label, CANVAS_SERIES1, st->ppm, st->cur, st->n);
    plot_set_marker(st->pl, s, '*');
    plot_set_legend(st->pl, two);
    if (isfinite(st->view[0]))
        plot_set_xrange(st->pl, st->view[1], st->view[0]);
    else
        plot_reset(st->pl, PLOT_XY);

    const struct run_attr *nuc = run_attr_find(st->run, "nmr", "nucleus");
    int f;
    struct run_table *t = spec_table(st->run, &f);
    char title[160], dur[48];
    snprintf(title, sizeof title, "%s%sspectrum %ld/%zu at %s", nuc && nuc->text ? nuc->text : "",
             nuc && nuc->text ? " " : "", st->cur_rec + 1, t->nrec,
             units_format_duration(st->cur_time, dur, sizeof dur));
    plot_set_title(st->pl, title);

    double hi, lo;
    spec_range(st, &hi, &lo);
    if (!(st->cursor <= hi && st->cursor >= lo))
        spec_place_cursor(st);
    plot_clear_markers(st->pl);
    if (isfinite(st->cursor))
        plot_add_marker(st->pl, st->cursor, NULL, CANVAS_HIGHLIGHT);

    int marks = 0;
    for (int i = 0; i < st->run->nattrs && !marks; i++) {
        const struct run_attr *a = &st->run->attrs[i];
        marks = a->group && !strcmp(a->group, "nmr") &&
                (util_startswith(a->key, "region_") || util_startswith(a->key, "peak_"));
    }
    int readout = h >= 5, strip = marks && h >= 9;
    int ph = h - readout - strip;
    /* In a small pane the data gets the row: the ticks and the readout say ppm anyway. */
    plot_set_xlabel(st->pl, ph >= 14 ? "shift" : NULL, ph >= 14 ? "ppm" : NULL);
    plot_draw(st->pl, c, x, y, w, ph);
    if (strip)
        spec_draw_marks(st, c, y + ph);
    if (readout)
        spec_draw_readout(st, c, x, y + h - 1, w);
}

/* Move the cursor by COLS screen columns (positive: to the right, to lower ppm). */
static void spec_move(struct spec_pane *st, int cols)
{
    int ax, aw;
    if (plot_area(st->pl, &ax, NULL, &aw, NULL) < 0)
        return;
    int col = plot_x_to_col(st->pl, st->cursor);
    if (col < 0)
        col = ax + aw / 2;
    col += cols;
    col = col < ax ? ax : col >= ax + aw ? ax + aw - 1 : col;
    plot_col_to_x(st->pl, col, &st->cursor);
}

/* Zoom by FACTOR (> 1: in) about the cursor, which keeps its place on the screen. */
static void spec_zoom(struct spec_pane *st, double factor)
{
    double hi, lo, full_hi, full_lo;
    spec_range(st, &hi, &lo);
    if (!isfinite(hi) || !st->n)
        return;
    full_hi = fmax(st->ppm[0], st->ppm[st->n - 1]);
    full_lo = fmin(st->ppm[0], st->ppm[st->n - 1]);
    double c = isfinite(st->cursor) && st->cursor <= hi && st->cursor >= lo ? st->cursor
                                                                           : (hi + lo) / 2;
    double nh = c + (hi - c) / factor, nl = c - (c - lo) / factor;
    if (nh - nl >= full_hi - full_lo) {
        st->view[0] = st->view[1] = NAN;
        return;
    }
    st->view[0] = fmin(nh, fmax(full_hi, hi));
    st->view[1] = fmax(nl, fmin(full_lo, lo));
}

static int spec_key(struct pane *p, int key)
{
    struct spec_pane *st = p->state;
    switch (key) {
    case KEYS_LEFT: case 'h': spec_move(st, -1); break;
    case KEYS_RIGHT: case 'l': spec_move(st, 1); break;
    case KEYS_SLEFT: case 'H': spec_move(st, -10); break;
    case KEYS_SRIGHT: case 'L': spec_move(st, 10); break;
    case '+': case '=': spec_zoom(st, 2); break;
    case '-': spec_zoom(st, 0.5); break;
    case '0':
        st->view[0] = st->home[0];
        st->view[1] = st->home[1];
        break;
    case 'o': st->overlay = !st->overlay; break;
    default: return 0;
    }
    pane_dirty(p);
    return 1;
}

static int spec_configure(struct pane *p, int argc, const struct word *argv, char *err,
                          size_t errlen)
{
    struct spec_pane *st = p->state;
    double zoom[2] = { st->home[0], st->home[1] };
    int overlay = st->overlay;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i].text;
        if (util_startswith(s, "zoom=")) {
            if (pane_ppm_range(s + 5, zoom, err, errlen) < 0)
                return -1;
        } else if (!strcmp(s, "overlay=on") || !strcmp(s, "overlay=off")) {
            overlay = !strcmp(s, "overlay=on");
        } else {
            snprintf(err, errlen, "\"%s\": a spectrum pane takes zoom=FROM,TO (e.g. "
                     "zoom=350ppm,100ppm, or full) and overlay=on|off", s);
            return -1;
        }
    }
    st->home[0] = st->view[0] = zoom[0];
    st->home[1] = st->view[1] = zoom[1];
    st->overlay = overlay;
    if (isfinite(zoom[0]) && !(st->cursor <= zoom[0] && st->cursor >= zoom[1]))
        st->cursor = NAN;
    pane_dirty(p);
    return 0;
}

static void spec_describe(struct pane *p, struct strbuf *out)
{
    struct spec_pane *st = p->state;
    pane_ppm_describe(st->home, out);
    if (!st->overlay)
        strbuf_addstr(out, " overlay=off");
}

const struct pane_type pane_spectrum_type = {
    .name = "spectrum",
    .help = "the newest NMR spectrum over the first, ppm decreasing (`zoom FROM TO` narrows it)",
    .keyhelp = "  Left/Right h/l  cursor    H/L  ten columns    o  first spectrum\n"
               "  +/-  zoom about the cursor    0  back to the `zoom` range",
    .titled = 1,
    .init = spec_init,
    .free = spec_free,
    .draw = spec_draw,
    .key = spec_key,
    .attach = spec_attach,
    .configure = spec_configure,
    .describe = spec_describe,
};
