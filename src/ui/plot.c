/* plot: line plots and heat maps drawn into a canvas (see plot.h). */
#include "insitu/plot.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insitu/canvas.h"
#include "insitu/util.h"

const char plot_heat_ramp[] = " .:-=+*#%@";
#define PLOT_RAMP_LEVELS 10

/* Data values are clamped to +-PLOT_BIG so that hi - lo of any range stays finite. */
#define PLOT_BIG 1e300
/* Dot coordinates are clamped to +-PLOT_FAR (a billion screens away) before clipping, so that
 * the clipping arithmetic never sees infinities; only lines between two such far points could
 * change slope, and those never cross the screen anyway. */
#define PLOT_FAR 1e15
/* A coordinate this close outside an edge is on it: v == hi maps to n * (1 + rounding). */
#define PLOT_EPS 1e-6

/* Marker characters of the series in ASCII when several series share a plot. */
static const char plot_markers[PLOT_MAX_SERIES + 1] = "*ox+#@%&";

struct plot_series {
    char *label;
    unsigned style;
    char marker;            /* ASCII marker when several series share the plot */
    const double *x, *y;
    size_t n;
};

struct plot_marker {
    double x;
    char *label;
    unsigned style;
};

struct plot_axis_cfg {
    char *label, *units;
    int fixed;
    double lo, hi;          /* the fixed range, lo < hi */
};

/* One axis as drawn: N cells show [lo, hi]. FLIP: the screen coordinate (rightwards for x,
 * downwards for y) grows toward lower values; so a normal y axis has flip = 1. */
struct plot_scale {
    double lo, hi;
    int flip;
    int n;
};

struct plot {
    char *title;
    struct plot_axis_cfg xa, ya;
    int legend, xrev;
    enum plot_mode mode;
    struct plot_series series[PLOT_MAX_SERIES];
    int nseries;
    struct plot_marker markers[PLOT_MAX_MARKERS];
    int nmarkers;
    const double *z, *zx, *zy;
    size_t zrows, zcols;
    enum plot_heat_agg agg;
    int zfixed;
    double zlo, zhi;
    /* Scratch kept between draws, so that redrawing every frame does not allocate. */
    uint8_t *bits, *owner;
    size_t dcap;
    long *bins;
    size_t bcap;
    double *hvals;
    size_t hcap;
    /* The last draw, for the cursor functions. */
    int drawn;
    int ax, ay, aw, ah;
    struct plot_scale sx, sy;
};

/* ---- setup ---------------------------------------------------------------------------- */

static void plot_setstr(char **dst, const char *s)
{
    free(*dst);
    *dst = s && *s ? util_strdup(s) : NULL;
}

struct plot *plot_new(void)
{
    struct plot *p = util_calloc(1, sizeof *p);
    p->legend = 1;
    return p;
}

void plot_free(struct plot *p)
{
    if (!p)
        return;
    plot_clear_series(p);
    plot_clear_markers(p);
    free(p->title);
    free(p->xa.label);
    free(p->xa.units);
    free(p->ya.label);
    free(p->ya.units);
    free(p->bits);
    free(p->owner);
    free(p->bins);
    free(p->hvals);
    free(p);
}

void plot_set_title(struct plot *p, const char *title)
{
    plot_setstr(&p->title, title);
}

void plot_set_xlabel(struct plot *p, const char *label, const char *units)
{
    plot_setstr(&p->xa.label, label);
    plot_setstr(&p->xa.units, units);
}

void plot_set_ylabel(struct plot *p, const char *label, const char *units)
{
    plot_setstr(&p->ya.label, label);
    plot_setstr(&p->ya.units, units);
}

void plot_set_legend(struct plot *p, int on)
{
    p->legend = on != 0;
}

void plot_set_xreverse(struct plot *p, int on)
{
    p->xrev = on != 0;
}

void plot_set_mode(struct plot *p, enum plot_mode mode)
{
    p->mode = mode;
}

int plot_add_series(struct plot *p, const char *label, unsigned style, const double *x,
                    const double *y, size_t n)
{
    if (p->nseries >= PLOT_MAX_SERIES)
        return -1;
    int i = p->nseries++;
    struct plot_series *s = &p->series[i];
    s->label = NULL;
    plot_setstr(&s->label, label);
    s->style = style ? style : CANVAS_SERIES(i);
    s->marker = plot_markers[i];
    plot_set_data(p, i, x, y, n);
    return i;
}

void plot_set_marker(struct plot *p, int series, char marker)
{
    if (series >= 0 && series < p->nseries && marker > ' ' && marker < 127)
        p->series[series].marker = marker;
}

void plot_set_data(struct plot *p, int series, const double *x, const double *y, size_t n)
{
    if (series < 0 || series >= p->nseries)
        return;
    struct plot_series *s = &p->series[series];
    s->x = x;
    s->y = y;
    s->n = y ? n : 0;
}

void plot_clear_series(struct plot *p)
{
    for (int i = 0; i < p->nseries; i++)
        free(p->series[i].label);
    p->nseries = 0;
}

int plot_series_count(const struct plot *p)
{
    return p->nseries;
}

void plot_set_heat(struct plot *p, const double *z, size_t rows, size_t cols, const double *xcol,
                   const double *yrow)
{
    p->z = z;
    p->zrows = z ? rows : 0;
    p->zcols = z ? cols : 0;
    p->zx = xcol;
    p->zy = yrow;
    p->mode = PLOT_HEAT;
}

void plot_set_heat_agg(struct plot *p, enum plot_heat_agg agg)
{
    p->agg = agg;
}

void plot_set_zrange(struct plot *p, double lo, double hi)
{
    p->zfixed = isfinite(lo) && isfinite(hi) && lo < hi;
    p->zlo = lo;
    p->zhi = hi;
}

int plot_add_marker(struct plot *p, double x, const char *label, unsigned style)
{
    if (p->nmarkers >= PLOT_MAX_MARKERS)
        return -1;
    int i = p->nmarkers++;
    p->markers[i].x = x;
    p->markers[i].label = NULL;
    plot_setstr(&p->markers[i].label, label);
    p->markers[i].style = style ? style : CANVAS_HIGHLIGHT;
    return i;
}

void plot_move_marker(struct plot *p, int marker, double x)
{
    if (marker >= 0 && marker < p->nmarkers)
        p->markers[marker].x = x;
}

void plot_clear_markers(struct plot *p)
{
    for (int i = 0; i < p->nmarkers; i++)
        free(p->markers[i].label);
    p->nmarkers = 0;
}

/* ---- ranges --------------------------------------------------------------------------- */

static double plot_clampd(double v, double lim)
{
    return v < -lim ? -lim : v > lim ? lim : v;
}

/* Make [lo, hi] drawable: ordered, finite, and wide enough that positions inside it keep
 * their precision. A flat range (one value) opens to +-10 % of it, or +-1 around zero. */
static void plot_range_fix(double *lo, double *hi)
{
    double a = plot_clampd(*lo, PLOT_BIG), b = plot_clampd(*hi, PLOT_BIG);
    if (a > b) {
        double t = a;
        a = b;
        b = t;
    }
    double m = fmax(fabs(a), fabs(b));
    double minspan = fmax(m * 1e-9, 1e-300);
    if (b - a < minspan) {
        double c = a / 2 + b / 2;
        double d = b == a ? (c != 0 ? fabs(c) * 0.1 : 1.0) : minspan / 2;
        a = c - d;
        b = c + d;
    }
    *lo = a;
    *hi = b;
}

/* Extent of the finite values of V (0..n-1 when V is NULL). Returns 0 when there are none. */
static int plot_extent(const double *v, size_t n, double *lo, double *hi)
{
    if (!v) {
        if (n)
            *lo = 0, *hi = (double)(n - 1);
        return n > 0;
    }
    int have = 0;
    double a = 0, b = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            continue;
        if (!have)
            a = b = v[i], have = 1;
        else if (v[i] < a)
            a = v[i];
        else if (v[i] > b)
            b = v[i];
    }
    *lo = a;
    *hi = b;
    return have;
}

static void plot_extend(int *have, double x, double y, double *a, double *b, double *c,
                        double *d)
{
    if (!*have) {
        *a = *b = x;
        *c = *d = y;
        *have = 1;
        return;
    }
    *a = x < *a ? x : *a;
    *b = x > *b ? x : *b;
    *c = y < *c ? y : *c;
    *d = y > *d ? y : *d;
}

/* Extent of the finite points of every series. With WIN only what is visible between x = wlo
 * and whi counts: the points there and where the lines between points cross those edges, so
 * that zooming in between two sparse points still fits y to the line. Returns 0 when nothing
 * counts. */
static int plot_series_extent(const struct plot *p, int win, double wlo, double whi,
                              double *x0, double *x1, double *y0, double *y1)
{
    int have = 0;
    double a = 0, b = 0, c = 0, d = 0;
    for (int k = 0; k < p->nseries; k++) {
        const struct plot_series *s = &p->series[k];
        int prev = 0;
        double px = 0, py = 0;
        for (size_t i = 0; i < s->n; i++) {
            double x = s->x ? s->x[i] : (double)i, y = s->y[i];
            if (!isfinite(x) || !isfinite(y)) {
                prev = 0;
                continue;
            }
            if (win && prev) {
                double e[2] = {wlo, whi};
                for (int j = 0; j < 2; j++)
                    if ((px < e[j] && x > e[j]) || (px > e[j] && x < e[j]))
                        plot_extend(&have, e[j], py + (y - py) * ((e[j] - px) / (x - px)), &a,
                                    &b, &c, &d);
            }
            prev = 1;
            px = x;
            py = y;
            if (!win || (x >= wlo && x <= whi))
                plot_extend(&have, x, y, &a, &b, &c, &d);
        }
    }
    *x0 = plot_clampd(a, PLOT_BIG);
    *x1 = plot_clampd(b, PLOT_BIG);
    *y0 = plot_clampd(c, PLOT_BIG);
    *y1 = plot_clampd(d, PLOT_BIG);
    return have;
}

/* Colour scale of the heat map. Returns 0 when the matrix has no finite value. */
static int plot_heat_zrange(const struct plot *p, double *lo, double *hi)
{
    int have = p->z ? plot_extent(p->z, p->zrows * p->zcols, lo, hi) : 0;
    if (p->zfixed) {
        *lo = p->zlo;
        *hi = p->zhi;
    } else if (!have) {
        *lo = 0;
        *hi = 1;
    }
    plot_range_fix(lo, hi);
    return have;
}

/* Row 0 of a heat map is at the top: whether y then grows downwards depends on the order of
 * the row values. */
static int plot_heat_rows_ascending(const struct plot *p)
{
    if (!p->zy || p->zrows < 2)
        return 1;
    return !(p->zy[p->zrows - 1] < p->zy[0]);
}

/* The ranges in force (fixed or autoscaled) and axis directions. Returns 1 when there is
 * anything to plot. */
static int plot_scales(const struct plot *p, struct plot_scale *sx, struct plot_scale *sy)
{
    int have;
    double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
    sx->flip = p->xrev;
    sx->n = sy->n = 0;
    if (p->mode == PLOT_HEAT) {
        double zlo, zhi;
        have = plot_heat_zrange(p, &zlo, &zhi);
        if (!plot_extent(p->zx, p->zcols, &x0, &x1))
            x0 = 0, x1 = 1;
        if (!plot_extent(p->zy, p->zrows, &y0, &y1))
            y0 = 0, y1 = 1;
        sy->flip = !plot_heat_rows_ascending(p);
    } else {
        have = plot_series_extent(p, 0, 0, 0, &x0, &x1, &y0, &y1);
        if (!have)
            x0 = 0, x1 = 1, y0 = 0, y1 = 1;
        if (have && p->xa.fixed && !p->ya.fixed) {
            /* Zoomed into x: fit y to what is visible, the usual wish when looking closer. */
            double a, b, c, d;
            if (plot_series_extent(p, 1, p->xa.lo, p->xa.hi, &a, &b, &c, &d))
                y0 = c, y1 = d;
        }
        if (have && y1 > y0) {
            double m = 0.05 * (y1 - y0);
            y0 -= m;
            y1 += m;
        }
        sy->flip = 1;
    }
    if (p->xa.fixed)
        x0 = p->xa.lo, x1 = p->xa.hi;
    if (p->ya.fixed)
        y0 = p->ya.lo, y1 = p->ya.hi;
    plot_range_fix(&x0, &x1);
    plot_range_fix(&y0, &y1);
    sx->lo = x0, sx->hi = x1;
    sy->lo = y0, sy->hi = y1;
    return have;
}

static void plot_axis_fix(struct plot_axis_cfg *a, double lo, double hi)
{
    plot_range_fix(&lo, &hi);
    a->fixed = 1;
    a->lo = lo;
    a->hi = hi;
}

static void plot_axis_set(struct plot_axis_cfg *a, double lo, double hi)
{
    if (!isfinite(lo) || !isfinite(hi) || lo == hi)
        a->fixed = 0;
    else
        plot_axis_fix(a, lo, hi);
}

void plot_set_xrange(struct plot *p, double lo, double hi)
{
    plot_axis_set(&p->xa, lo, hi);
}

void plot_set_yrange(struct plot *p, double lo, double hi)
{
    plot_axis_set(&p->ya, lo, hi);
}

void plot_reset(struct plot *p, unsigned axes)
{
    if (axes & PLOT_X)
        p->xa.fixed = 0;
    if (axes & PLOT_Y)
        p->ya.fixed = 0;
}

static void plot_zoom_axis(struct plot_axis_cfg *a, const struct plot_scale *s, double f, double c)
{
    if (!isfinite(c))
        c = s->lo / 2 + s->hi / 2;
    /* Keeping c fixed on screen: its distances to both edges shrink by the same factor. */
    plot_axis_fix(a, c - (c - s->lo) / f, c + (s->hi - c) / f);
}

void plot_zoom_at(struct plot *p, unsigned axes, double factor, double x, double y)
{
    if (!(factor > 0) || !isfinite(factor))
        return;
    struct plot_scale sx, sy;
    plot_scales(p, &sx, &sy);
    if (axes & PLOT_X)
        plot_zoom_axis(&p->xa, &sx, factor, x);
    if (axes & PLOT_Y)
        plot_zoom_axis(&p->ya, &sy, factor, y);
}

void plot_zoom(struct plot *p, unsigned axes, double factor)
{
    plot_zoom_at(p, axes, factor, NAN, NAN);
}

void plot_pan(struct plot *p, unsigned axes, double frac)
{
    if (!isfinite(frac))
        return;
    struct plot_scale sx, sy;
    plot_scales(p, &sx, &sy);
    if (axes & PLOT_X) {
        /* Rightwards is towards lower values on a reversed axis. */
        double d = frac * (sx.hi - sx.lo) * (sx.flip ? -1 : 1);
        plot_axis_fix(&p->xa, sx.lo + d, sx.hi + d);
    }
    if (axes & PLOT_Y) {
        double d = frac * (sy.hi - sy.lo) * (sy.flip ? 1 : -1);
        plot_axis_fix(&p->ya, sy.lo + d, sy.hi + d);
    }
}

void plot_get_ranges(const struct plot *p, double *xlo, double *xhi, double *ylo, double *yhi)
{
    struct plot_scale sx, sy;
    plot_scales(p, &sx, &sy);
    if (xlo)
        *xlo = sx.lo;
    if (xhi)
        *xhi = sx.hi;
    if (ylo)
        *ylo = sy.lo;
    if (yhi)
        *yhi = sy.hi;
}

/* ---- mapping -------------------------------------------------------------------------- */

/* Continuous screen coordinate of V on scale S stretched over N units (cells or dots): 0 at the
 * left/top edge of the first unit, N at the far edge of the last. */
static double plot_pos(const struct plot_scale *s, double v, double n)
{
    double t = s->flip ? (s->hi - v) / (s->hi - s->lo) : (v - s->lo) / (s->hi - s->lo);
    return t * n;
}

static double plot_val(const struct plot_scale *s, double pos, double n)
{
    double t = pos / n;
    return s->flip ? s->hi - t * (s->hi - s->lo) : s->lo + t * (s->hi - s->lo);
}

/* The unit (cell or dot) containing POS among N: -1 for anything left/above, N for anything
 * right/below. The far edge itself (a value equal to the end of the range) belongs to the last
 * unit, so that the last point of an autoscaled axis is drawn. */
static long plot_index(double pos, long n)
{
    if (pos < 0)
        return pos >= -PLOT_EPS ? 0 : -1;
    if (pos >= (double)n)
        return pos <= (double)n + PLOT_EPS ? n - 1 : n;
    return (long)pos;
}

/* ---- numbers -------------------------------------------------------------------------- */

static const char *const plot_prefixes[] = {"y", "z", "a", "f", "p", "n", "u", "m", "",
                                            "k", "M", "G", "T", "P", "E", "Z", "Y"};

/* The engineering exponent (a multiple of 3) for numbers up to MAXABS: 0 from 0.01 to 9999,
 * where plain decimals read best, else that of the SI prefix. */
static int plot_exp3(double maxabs)
{
    if (!(maxabs > 0) || !isfinite(maxabs) || (maxabs >= 1e-2 && maxabs < 1e4))
        return 0;
    int e = (int)floor(log10(maxabs) + 1e-9);
    return 3 * (int)floor(e / 3.0);
}

/* Decimals needed to show steps of RES (in display units). */
static int plot_decimals(double res)
{
    if (!(res > 0) || !isfinite(res))
        return 0;
    int d = (int)ceil(-log10(res) - 1e-9);
    return d < 0 ? 0 : d > 12 ? 12 : d;
}

/* V written as V / 10^E3 with DEC decimals and the SI prefix of E3 ("e30" beyond them). */
static void plot_format_e3(double v, int e3, int dec, int utf8, char *buf, size_t len)
{
    char suffix[8] = "";
    if (e3 >= -24 && e3 <= 24) {
        int i = e3 / 3 + 8;
        util_strlcpy(suffix, i == 6 && utf8 ? "\u00b5" : plot_prefixes[i], sizeof suffix);
    } else {
        snprintf(suffix, sizeof suffix, "e%d", e3);
    }
    double s = v / pow(10.0, e3);
    /* A value that rounds to zero is written "0" or "0.0", never "-0.0" nor "0n". */
    if (fabs(s) < 0.5 * pow(10.0, -dec)) {
        s = 0.0;
        suffix[0] = '\0';
    }
    snprintf(buf, len, "%.*f%s", dec, s, suffix);
}

char *plot_format_value(double v, double resolution, int utf8, char *buf, size_t len)
{
    if (!isfinite(v)) {
        snprintf(buf, len, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
        return buf;
    }
    /* The prefix follows the resolution too: 0.001 on a scale read to 200 is "0", not "1m". */
    int e3 = plot_exp3(fmax(fabs(v), fabs(resolution)));
    plot_format_e3(v, e3, plot_decimals(fabs(resolution) / pow(10.0, e3)), utf8, buf, len);
    return buf;
}

/* The nice step after STEP: 1 -> 2 -> 5 -> 10. */
static double plot_next_step(double step)
{
    double mag = pow(10.0, floor(log10(step) + 1e-9));
    double r = step / mag;
    return (r < 1.5 ? 2 : r < 3.5 ? 5 : 10) * mag;
}

int plot_ticks(double lo, double hi, int target, int utf8, struct plot_ticks *t)
{
    t->n = 0;
    t->step = 0;
    if (!isfinite(lo) || !isfinite(hi) || !(hi > lo) || !isfinite(hi - lo))
        return 0;
    if (target < 1)
        target = 1;
    if (target > PLOT_MAX_TICKS - 1)
        target = PLOT_MAX_TICKS - 1;
    double raw = (hi - lo) / target;
    double mag = pow(10.0, floor(log10(raw)));
    double r = raw / mag;
    /* The nearest nice step (Heckbert), not the next larger: 2.2 in 4 steps is 0.5, not 1. The
     * callers check that the labels fit and ask for fewer when they do not. */
    double step = (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
    double k0, k1;
    for (;;) {
        /* Integer multiples of the step, so that 0.1 + 0.2 never shows as 0.30000000004. */
        k0 = ceil(lo / step - 1e-9);
        k1 = floor(hi / step + 1e-9);
        if (k1 - k0 + 1 <= PLOT_MAX_TICKS)
            break;
        step = plot_next_step(step);
    }
    t->step = step;
    for (double k = k0; k <= k1 && t->n < PLOT_MAX_TICKS; k++) {
        double v = k * step;
        t->v[t->n++] = fabs(v) < step * 1e-9 ? 0.0 : v;
    }
    if (t->n == 0)
        return 0;
    /* One prefix for the whole axis, so that labels compare at a glance. */
    double maxabs = fmax(fmax(fabs(t->v[0]), fabs(t->v[t->n - 1])), step);
    int e3 = plot_exp3(maxabs);
    int dec = plot_decimals(step / pow(10.0, e3));
    for (int i = 0; i < t->n; i++)
        plot_format_e3(t->v[i], e3, dec, utf8, t->label[i], sizeof t->label[i]);
    return t->n;
}

/* ---- dots ----------------------------------------------------------------------------- */

/* The sub-cell raster the lines are drawn in: 2x4 dots per cell in braille, 1x3 in ASCII. */
struct plot_dots {
    int cw, ch;             /* cells */
    int sx, sy;             /* dots per cell */
    long w, h;              /* dots */
    uint8_t *bits, *owner;  /* per cell: dots set, index of the series that set the last */
    uint8_t id;             /* the series being drawn */
};

/* Braille dot numbering: column 0 has dots 1,2,3,7 (bits 0,1,2,6), column 1 has 4,5,6,8. */
static const uint8_t plot_braille_bit[2][4] = {{0x01, 0x02, 0x04, 0x40}, {0x08, 0x10, 0x20, 0x80}};

static void plot_dot(struct plot_dots *d, long x, long y)
{
    size_t cell = (size_t)(y / d->sy) * (size_t)d->cw + (size_t)(x / d->sx);
    d->bits[cell] |= d->sx == 2 ? plot_braille_bit[x & 1][y & 3] : (uint8_t)(1u << (y % 3));
    d->owner[cell] = d->id;
}

/* The dots of column X from y0 to y1 (continuous coordinates, y0 <= y1), clipped. */
static void plot_vspan(struct plot_dots *d, long x, double y0, double y1)
{
    if (x < 0 || x >= d->w)
        return;
    long a = plot_index(y0, d->h), b = plot_index(y1, d->h);
    if (b < 0 || a >= d->h)
        return;
    a = a < 0 ? 0 : a;
    b = b >= d->h ? d->h - 1 : b;
    for (long y = a; y <= b; y++)
        plot_dot(d, x, y);
}

/* Liang-Barsky: clip the segment to [0,w] x [0,h]. Returns 0 when nothing of it is inside. */
static int plot_clip(double *x0, double *y0, double *x1, double *y1, double w, double h)
{
    double dx = *x1 - *x0, dy = *y1 - *y0, t0 = 0, t1 = 1;
    double pp[4] = {-dx, dx, -dy, dy}, q[4] = {*x0, w - *x0, *y0, h - *y0};
    for (int i = 0; i < 4; i++) {
        if (pp[i] == 0) {
            if (q[i] < 0)
                return 0;
            continue;
        }
        double r = q[i] / pp[i];
        if (pp[i] < 0) {
            if (r > t1)
                return 0;
            if (r > t0)
                t0 = r;
        } else {
            if (r < t0)
                return 0;
            if (r < t1)
                t1 = r;
        }
    }
    double ax = *x0 + t0 * dx, ay = *y0 + t0 * dy;
    *x1 = *x0 + t1 * dx;
    *y1 = *y0 + t1 * dy;
    *x0 = ax;
    *y0 = ay;
    return 1;
}

static long plot_clampl(long v, long n)
{
    return v < 0 ? 0 : v >= n ? n - 1 : v;
}

/* Bresenham between two points in continuous dot coordinates, clipped first so that the loop
 * only ever walks visible dots. */
static void plot_line(struct plot_dots *d, double x0, double y0, double x1, double y1)
{
    if (!plot_clip(&x0, &y0, &x1, &y1, (double)d->w, (double)d->h))
        return;
    long ax = plot_clampl(plot_index(x0, d->w), d->w), ay = plot_clampl(plot_index(y0, d->h), d->h);
    long bx = plot_clampl(plot_index(x1, d->w), d->w), by = plot_clampl(plot_index(y1, d->h), d->h);
    long dx = labs(bx - ax), dy = -labs(by - ay);
    long stx = ax < bx ? 1 : -1, sty = ay < by ? 1 : -1, err = dx + dy;
    for (;;) {
        plot_dot(d, ax, ay);
        if (ax == bx && ay == by)
            break;
        long e2 = 2 * err;
        if (e2 >= dy) {
            err += dy;
            ax += stx;
        }
        if (e2 <= dx) {
            err += dx;
            ay += sty;
        }
    }
}

/* One series. Consecutive points in the same dot column collapse into their min..max span
 * (drawn once) plus the lines into and out of the column, so the cost is O(points + dots) and
 * no extreme is lost however many points share a column. */
static void plot_draw_series(struct plot_dots *d, const struct plot_series *s,
                             const struct plot_scale *sx, const struct plot_scale *sy)
{
    int have = 0;
    long col = 0;
    double gmin = 0, gmax = 0, lx = 0, ly = 0;
    double W = (double)d->w, H = (double)d->h;
    /* Hoisted plot_pos: pos = (v - ref) * k. */
    double xref = sx->flip ? sx->hi : sx->lo, xk = W / (sx->hi - sx->lo) * (sx->flip ? -1 : 1);
    double yref = sy->flip ? sy->hi : sy->lo, yk = H / (sy->hi - sy->lo) * (sy->flip ? -1 : 1);
    for (size_t i = 0; i < s->n; i++) {
        double xv = s->x ? s->x[i] : (double)i, yv = s->y[i];
        if (!isfinite(xv) || !isfinite(yv)) {
            /* A gap in the data is a gap in the line. */
            if (have)
                plot_vspan(d, col, gmin, gmax);
            have = 0;
            continue;
        }
        double px = plot_clampd((xv - xref) * xk, PLOT_FAR);
        double py = plot_clampd((yv - yref) * yk, PLOT_FAR);
        long c = plot_index(px, d->w);
        if (have && c == col) {
            gmin = py < gmin ? py : gmin;
            gmax = py > gmax ? py : gmax;
            lx = px;
            ly = py;
            continue;
        }
        if (have) {
            plot_vspan(d, col, gmin, gmax);
            plot_line(d, lx, ly, px, py);
        }
        have = 1;
        col = c;
        gmin = gmax = py;
        lx = px;
        ly = py;
    }
    if (have)
        plot_vspan(d, col, gmin, gmax);
}

/* ---- layout and drawing --------------------------------------------------------------- */

struct plot_layout {
    int x, y, w, h;         /* the whole rectangle */
    int ax, ay, aw, ah;     /* the data area */
    int utf8;
};

/* "label [units]", "label", "[units]" or "". */
static void plot_axis_title(const struct plot_axis_cfg *a, char *buf, size_t len)
{
    if (a->label && a->units)
        snprintf(buf, len, "%s [%s]", a->label, a->units);
    else if (a->label)
        snprintf(buf, len, "%s", a->label);
    else if (a->units)
        snprintf(buf, len, "[%s]", a->units);
    else if (len)
        buf[0] = '\0';
}

/* Start of the label of tick I on the x axis, centred under its column and kept inside the
 * rectangle. */
static int plot_xlabel_start(const struct plot_layout *L, const struct plot_scale *sx,
                             const struct plot_ticks *t, int i)
{
    int len = canvas_strwidth(t->label[i]);
    int col = L->ax + (int)plot_index(plot_pos(sx, t->v[i], sx->n), sx->n);
    int start = col - len / 2;
    if (start + len > L->x + L->w)
        start = L->x + L->w - len;
    if (start < L->x)
        start = L->x;
    return start;
}

/* Do the labels of T fit along the axis: x labels 3 cells apart, y labels a blank row apart? */
static int plot_ticks_fit(const struct plot_layout *L, const struct plot_scale *s, int horiz,
                          const struct plot_ticks *t)
{
    for (int i = 1; i < t->n; i++) {
        if (horiz) {
            int a = plot_xlabel_start(L, s, t, i - 1), b = plot_xlabel_start(L, s, t, i);
            int la = canvas_strwidth(t->label[i - 1]), lb = canvas_strwidth(t->label[i]);
            if (a < b ? b < a + la + 3 : a < b + lb + 3)
                return 0;
        } else {
            long a = plot_index(plot_pos(s, t->v[i - 1], s->n), s->n);
            long b = plot_index(plot_pos(s, t->v[i], s->n), s->n);
            if (labs(a - b) < 2)
                return 0;
        }
    }
    return 1;
}

/* As many ticks as fit, starting from one per 8 columns or per 2 rows. */
static void plot_choose_ticks(const struct plot_layout *L, const struct plot_scale *s, int horiz,
                              struct plot_ticks *t)
{
    int target = horiz ? s->n / 8 : s->n / 2;
    if (target < 1)
        target = 1;
    for (; target >= 1; target--) {
        plot_ticks(s->lo, s->hi, target, L->utf8, t);
        if (plot_ticks_fit(L, s, horiz, t))
            return;
    }
}

static void plot_draw_axes(struct canvas *c, const struct plot_layout *L,
                           const struct plot_scale *sx, const struct plot_scale *sy,
                           const struct plot_ticks *tx, const struct plot_ticks *ty)
{
    unsigned st = CANVAS_AXIS;
    int u = L->utf8, base = L->ay + L->ah;
    canvas_vline(c, L->ax - 1, L->ay, L->ah, st);
    canvas_put(c, L->ax - 1, base, u ? "\u2514" : "+", st);
    canvas_hline(c, L->ax, base, L->aw, st);
    for (int i = 0; i < ty->n; i++) {
        long r = plot_index(plot_pos(sy, ty->v[i], sy->n), sy->n);
        if (r < 0 || r >= sy->n)
            continue;
        int row = L->ay + (int)r;
        canvas_put(c, L->ax - 1, row, u ? "\u2524" : "+", st);
        canvas_text(c, L->ax - 2 - canvas_strwidth(ty->label[i]), row, ty->label[i], st);
    }
    int last_end = -1000000, last_start = 1000000;
    for (int i = 0; i < tx->n; i++) {
        long k = plot_index(plot_pos(sx, tx->v[i], sx->n), sx->n);
        if (k < 0 || k >= sx->n)
            continue;
        canvas_put(c, L->ax + (int)k, base, u ? "\u252c" : "+", st);
        /* Labels that would touch the previous one are left out (ticks are monotonic along the
         * screen in one direction or the other). */
        int start = plot_xlabel_start(L, sx, tx, i), len = canvas_strwidth(tx->label[i]);
        if (start < last_end + 1 && start + len + 1 > last_start)
            continue;
        canvas_text(c, start, base + 1, tx->label[i], st);
        last_start = start;
        last_end = start + len;
    }
}

/* The character of an ASCII cell of a single series from its sub-row bits (top, middle,
 * bottom): the line's height inside the cell where it passes flat, a slash where it climbs
 * through the cell (judged from the neighbouring columns, RISE > 0: up to the right), '|' where
 * it runs steeply. */
static const char *plot_ascii_glyph(unsigned bits, int rise)
{
    switch (bits & 7) {
    case 1:
        return "'";
    case 2:
        return "-";
    case 4:
        return ".";
    default:
        return rise > 0 ? "/" : rise < 0 ? "\\" : "|";
    }
}

/* Per column of a single-series ASCII raster: the direction the line takes through it (+1 up
 * to the right, -1 down, 0 steep or flat), from the centres of the neighbouring columns.
 * Columns whose line spans more than two cells are steep: '|' reads better there. */
static void plot_ascii_rise(const struct plot_dots *d, long *lo, long *hi, long *rise)
{
    for (int q = 0; q < d->cw; q++) {
        lo[q] = -1;
        hi[q] = -1;
        for (int r = 0; r < d->ch; r++) {
            unsigned b = d->bits[(size_t)r * (size_t)d->cw + (size_t)q];
            if (!b)
                continue;
            long top = (long)r * 3 + (b & 1 ? 0 : b & 2 ? 1 : 2);
            long bot = (long)r * 3 + (b & 4 ? 2 : b & 2 ? 1 : 0);
            if (lo[q] < 0)
                lo[q] = top;
            hi[q] = bot;
        }
    }
    for (int q = 0; q < d->cw; q++) {
        rise[q] = 0;
        if (lo[q] < 0 || hi[q] - lo[q] + 1 > 2 * d->sy)
            continue;
        int a = q > 0 && lo[q - 1] >= 0 ? q - 1 : q, b = q + 1 < d->cw && lo[q + 1] >= 0 ? q + 1 : q;
        long ca = lo[a] + hi[a], cb = lo[b] + hi[b];   /* twice the centres; rows grow down */
        rise[q] = cb < ca ? 1 : cb > ca ? -1 : 0;
    }
}

static void plot_legend_glyph(const struct plot *p, int i, int utf8, char *buf)
{
    if (utf8)
        strcpy(buf, "\u2500");
    else if (p->nseries > 1)
        buf[0] = p->series[i].marker, buf[1] = '\0';
    else
        strcpy(buf, "-");
}

static void plot_draw_legend(struct plot *p, struct canvas *c, const struct plot_layout *L)
{
    int rows = 0, width = 0;
    for (int i = 0; i < p->nseries; i++) {
        if (!p->series[i].label)
            continue;
        rows++;
        int w = 2 + canvas_strwidth(p->series[i].label);
        width = w > width ? w : width;
    }
    int maxw = L->aw / 2;
    if (!rows || rows > L->ah - 1 || maxw < 6)
        return;
    width = width < maxw ? width : maxw;
    int lx = L->ax + L->aw - width, row = L->ay;
    /* A blank margin around the box keeps the legend legible over the data. */
    canvas_fill(c, lx - 1, row, width + 1, rows, " ", CANVAS_DEFAULT);
    int cx0 = c->clip_x0, cy0 = c->clip_y0, cx1 = c->clip_x1, cy1 = c->clip_y1;
    canvas_set_clip(c, lx, row, width, rows);
    for (int i = 0; i < p->nseries; i++) {
        const struct plot_series *s = &p->series[i];
        if (!s->label)
            continue;
        char g[8];
        plot_legend_glyph(p, i, L->utf8, g);
        canvas_text(c, lx, row, g, s->style);
        canvas_text(c, lx + 2, row, s->label, CANVAS_DEFAULT);
        row++;
    }
    c->clip_x0 = cx0, c->clip_y0 = cy0, c->clip_x1 = cx1, c->clip_y1 = cy1;
}

static void plot_draw_markers(struct plot *p, struct canvas *c, const struct plot_layout *L,
                              const struct plot_scale *sx, int labels)
{
    for (int i = 0; i < p->nmarkers; i++) {
        const struct plot_marker *m = &p->markers[i];
        if (!isfinite(m->x))
            continue;
        long k = plot_index(plot_pos(sx, m->x, sx->n), sx->n);
        if (k < 0 || k >= sx->n)
            continue;
        int col = L->ax + (int)k;
        if (!labels) {
            canvas_fill(c, col, L->ay, 1, L->ah, L->utf8 ? "\u250a" : ":", m->style);
            continue;
        }
        if (!m->label)
            continue;
        /* The label goes right of the line, or left of it near the right edge. */
        int len = canvas_strwidth(m->label);
        int start = col + 1 + len <= L->ax + L->aw ? col + 1 : col - len;
        if (start < L->ax)
            start = L->ax;
        canvas_text(c, start, L->ay, m->label, m->style);
    }
}

/* Make sure the scratch buffers hold N cells / bins. */
static void plot_scratch(struct plot *p, size_t cells, size_t bins, size_t vals)
{
    if (cells > p->dcap) {
        p->bits = util_realloc(p->bits, cells);
        p->owner = util_realloc(p->owner, cells);
        p->dcap = cells;
    }
    if (bins > p->bcap) {
        p->bins = util_reallocarray(p->bins, bins, sizeof *p->bins);
        p->bcap = bins;
    }
    if (vals > p->hcap) {
        p->hvals = util_reallocarray(p->hvals, vals, sizeof *p->hvals);
        p->hcap = vals;
    }
}

static void plot_draw_lines(struct plot *p, struct canvas *c, const struct plot_layout *L,
                            const struct plot_scale *sx, const struct plot_scale *sy)
{
    size_t cells = (size_t)L->aw * (size_t)L->ah;
    plot_scratch(p, cells, 3 * (size_t)L->aw, 0);
    struct plot_dots d = {.cw = L->aw, .ch = L->ah, .sx = L->utf8 ? 2 : 1, .sy = L->utf8 ? 4 : 3,
                          .bits = p->bits, .owner = p->owner};
    d.w = (long)d.cw * d.sx;
    d.h = (long)d.ch * d.sy;
    memset(d.bits, 0, cells);
    for (int i = 0; i < p->nseries; i++) {
        d.id = (uint8_t)i;
        plot_draw_series(&d, &p->series[i], sx, sy);
    }
    int markers = p->nseries > 1;
    long *rise = p->bins + 2 * L->aw;
    if (!L->utf8 && !markers)
        plot_ascii_rise(&d, p->bins, p->bins + L->aw, rise);
    for (int r = 0; r < d.ch; r++)
        for (int q = 0; q < d.cw; q++) {
            size_t i = (size_t)r * (size_t)d.cw + (size_t)q;
            unsigned bits = d.bits[i];
            if (!bits)
                continue;
            unsigned st = p->series[d.owner[i]].style;
            int cx = L->ax + q, cy = L->ay + r;
            if (L->utf8) {
                canvas_braille(c, cx, cy, bits, st);
            } else if (markers) {
                char m[2] = {p->series[d.owner[i]].marker, 0};
                canvas_put(c, cx, cy, m, st);
            } else {
                canvas_put(c, cx, cy, plot_ascii_glyph(bits, (int)rise[q]), st);
            }
        }
}

/* For each of the N cells along scale S: the range [b0, b1] of data indices whose value V[k]
 * (k when V is NULL) falls into it. A cell no value falls into borrows the nearest index when
 * its centre lies within half a data spacing of the data, so sparse data shows as blocks rather
 * than stripes; else b0 = -1. V must be monotonic, in either direction. */
static void plot_heat_bins(const double *v, size_t nv, const struct plot_scale *s, long *b0,
                           long *b1)
{
    long n = s->n;
    for (long i = 0; i < n; i++)
        b0[i] = b1[i] = -1;
    for (size_t k = 0; k < nv; k++) {
        double val = v ? v[k] : (double)k;
        if (!isfinite(val))
            continue;
        long i = plot_index(plot_pos(s, val, (double)n), n);
        if (i < 0 || i >= n)
            continue;
        if (b0[i] < 0)
            b0[i] = (long)k;
        b1[i] = (long)k;
    }
    if (nv < 2)
        return;
    double first = v ? v[0] : 0, last = v ? v[nv - 1] : (double)(nv - 1);
    if (!isfinite(first) || !isfinite(last))
        return;
    int asc = last >= first;
    double half = fabs(last - first) / (double)(nv - 1) / 2;
    double lo = fmin(first, last) - half, hi = fmax(first, last) + half;
    for (long i = 0; i < n; i++) {
        if (b0[i] >= 0)
            continue;
        double cv = plot_val(s, (double)i + 0.5, (double)n);
        if (cv < lo || cv > hi)
            continue;
        size_t a = 0, b = nv;
        while (a < b) {
            size_t mid = a + (b - a) / 2;
            double mv = v ? v[mid] : (double)mid;
            if (asc ? mv < cv : mv > cv)
                a = mid + 1;
            else
                b = mid;
        }
        size_t k = a < nv ? a : nv - 1;
        if (k > 0) {
            double ka = v ? v[k] : (double)k, kb = v ? v[k - 1] : (double)(k - 1);
            if (!(fabs(ka - cv) <= fabs(kb - cv)))
                k--;
        }
        b0[i] = b1[i] = (long)k;
    }
}

/* Level 0..1 of V on the colour scale. */
static double plot_heat_t(double v, double zlo, double zhi)
{
    double t = (v - zlo) / (zhi - zlo);
    return t < 0 ? 0 : t > 1 ? 1 : t;
}

static void plot_heat_cell(struct canvas *c, int x, int y, double t)
{
    int ri = (int)(t * PLOT_RAMP_LEVELS), hi = (int)(t * CANVAS_NHEAT);
    ri = ri >= PLOT_RAMP_LEVELS ? PLOT_RAMP_LEVELS - 1 : ri;
    hi = hi >= CANVAS_NHEAT ? CANVAS_NHEAT - 1 : hi;
    char ch[2] = {plot_heat_ramp[ri], 0};
    canvas_put(c, x, y, ch, CANVAS_HEAT(hi));
}

static void plot_draw_heat(struct plot *p, struct canvas *c, const struct plot_layout *L,
                           const struct plot_scale *sx, const struct plot_scale *sy, double zlo,
                           double zhi)
{
    size_t aw = (size_t)L->aw, ah = (size_t)L->ah;
    plot_scratch(p, 0, 2 * (aw + ah), aw);
    long *xb0 = p->bins, *xb1 = xb0 + aw, *yb0 = xb1 + aw, *yb1 = yb0 + ah;
    double *vals = p->hvals;
    plot_heat_bins(p->zx, p->zcols, sx, xb0, xb1);
    plot_heat_bins(p->zy, p->zrows, sy, yb0, yb1);
    int valid = 0;
    for (size_t j = 0; j < ah; j++) {
        long r0 = yb0[j], r1 = yb1[j];
        if (r0 < 0) {
            valid = 0;
            continue;
        }
        /* Rows repeated to fill sparse data reuse the aggregate of the row above. */
        if (!(valid && j > 0 && yb0[j - 1] == r0 && yb1[j - 1] == r1)) {
            for (size_t i = 0; i < aw; i++) {
                double acc = NAN;
                size_t cnt = 0;
                if (xb0[i] >= 0)
                    for (long r = r0; r <= r1; r++) {
                        const double *row = p->z + (size_t)r * p->zcols;
                        for (long k = xb0[i]; k <= xb1[i]; k++) {
                            double v = row[k];
                            if (!isfinite(v))
                                continue;
                            if (p->agg == PLOT_HEAT_MEAN)
                                acc = cnt ? acc + v : v;
                            else
                                acc = cnt && acc >= v ? acc : v;
                            cnt++;
                        }
                    }
                vals[i] = cnt && p->agg == PLOT_HEAT_MEAN ? acc / (double)cnt : acc;
            }
            valid = 1;
        }
        for (size_t i = 0; i < aw; i++)
            if (!isnan(vals[i]))
                plot_heat_cell(c, L->ax + (int)i, L->ay + (int)j, plot_heat_t(vals[i], zlo, zhi));
    }
}

/* The colour bar right of a heat map: the ramp from the top (zhi) down, labelled. */
static void plot_draw_colorbar(struct canvas *c, const struct plot_layout *L, int bx,
                               const char *top, const char *mid, const char *bot)
{
    for (int j = 0; j < L->ah; j++)
        plot_heat_cell(c, bx, L->ay + j, 1.0 - ((double)j + 0.5) / L->ah);
    canvas_text(c, bx + 2, L->ay, top, CANVAS_AXIS);
    if (mid)
        canvas_text(c, bx + 2, L->ay + (L->ah - 1) / 2, mid, CANVAS_AXIS);
    canvas_text(c, bx + 2, L->ay + L->ah - 1, bot, CANVAS_AXIS);
}

static void plot_draw_title(struct plot *p, struct canvas *c, int x, int y, int w, int after)
{
    if (!p->title)
        return;
    int tw = canvas_strwidth(p->title);
    int tx = x + (w - tw) / 2;
    if (tx < after)
        tx = after;
    canvas_text(c, tx, y, p->title, CANVAS_TITLE | CANVAS_BOLD);
}

void plot_draw(struct plot *p, struct canvas *c, int x, int y, int w, int h)
{
    p->drawn = 0;
    /* Lay out in the visible part only, so that a pane hanging off the canvas stays sane. */
    long long x0 = x > 0 ? x : 0, y0 = y > 0 ? y : 0;
    long long x1 = (long long)x + (w > 0 ? w : 0), y1 = (long long)y + (h > 0 ? h : 0);
    x1 = x1 < c->w ? x1 : c->w;
    y1 = y1 < c->h ? y1 : c->h;
    if (x1 <= x0 || y1 <= y0)
        return;
    struct plot_layout L = {.x = (int)x0, .y = (int)y0, .w = (int)(x1 - x0), .h = (int)(y1 - y0),
                            .utf8 = c->utf8};
    /* Clip to the rectangle, inside whatever clip the caller had set. */
    int cx0 = c->clip_x0, cy0 = c->clip_y0, cx1 = c->clip_x1, cy1 = c->clip_y1;
    canvas_set_clip(c, L.x, L.y, L.w, L.h);
    c->clip_x0 = c->clip_x0 > cx0 ? c->clip_x0 : cx0;
    c->clip_y0 = c->clip_y0 > cy0 ? c->clip_y0 : cy0;
    c->clip_x1 = c->clip_x1 < cx1 ? c->clip_x1 : cx1;
    c->clip_y1 = c->clip_y1 < cy1 ? c->clip_y1 : cy1;
    if (c->clip_x1 < c->clip_x0)
        c->clip_x1 = c->clip_x0;
    if (c->clip_y1 < c->clip_y0)
        c->clip_y1 = c->clip_y0;

    char ytitle[256], xtitle[256];
    plot_axis_title(&p->ya, ytitle, sizeof ytitle);
    plot_axis_title(&p->xa, xtitle, sizeof xtitle);
    int header = p->title || ytitle[0];
    int xrow = xtitle[0] && L.h >= 8;
    L.ah = L.h - header - 2 - xrow;
    if (L.w < 10 || L.h < 4 || L.ah < 2) {
        plot_draw_title(p, c, L.x, L.y, L.w, L.x);
        goto out;
    }
    L.ay = L.y + header;

    struct plot_scale sx, sy;
    int have = plot_scales(p, &sx, &sy);
    sy.n = L.ah;
    double zlo = 0, zhi = 1;
    int heat = p->mode == PLOT_HEAT;
    if (heat)
        plot_heat_zrange(p, &zlo, &zhi);

    /* Ticks only where the range means something: data, or a range the user fixed. */
    struct plot_ticks ty = {0}, tx = {0};
    if (have || p->ya.fixed)
        plot_choose_ticks(&L, &sy, 0, &ty);
    int lw = 0;
    for (int i = 0; i < ty.n; i++) {
        int n = canvas_strwidth(ty.label[i]);
        lw = n > lw ? n : lw;
    }
    L.ax = L.x + lw + 2;
    L.aw = L.x + L.w - L.ax;

    /* Heat maps give the colour bar 2 gaps + the bar + its labels, if it leaves enough. */
    char ztop[16] = "", zmid[16] = "", zbot[16] = "";
    int cbar = 0;
    if (heat && have) {
        struct plot_ticks tz;
        double res = plot_ticks(zlo, zhi, 4, L.utf8, &tz) ? tz.step : (zhi - zlo) / 4;
        plot_format_value(zhi, res, L.utf8, ztop, sizeof ztop);
        plot_format_value(zlo, res, L.utf8, zbot, sizeof zbot);
        plot_format_value(zlo / 2 + zhi / 2, res, L.utf8, zmid, sizeof zmid);
        int zw = canvas_strwidth(ztop);
        zw = canvas_strwidth(zbot) > zw ? canvas_strwidth(zbot) : zw;
        zw = canvas_strwidth(zmid) > zw ? canvas_strwidth(zmid) : zw;
        if (L.aw - (zw + 4) >= 10) {
            cbar = zw + 4;
            L.aw -= cbar;
        }
    }
    if (L.aw < 4) {
        plot_draw_title(p, c, L.x, L.y, L.w, L.x);
        goto out;
    }
    sx.n = L.aw;
    if (have || p->xa.fixed)
        plot_choose_ticks(&L, &sx, 1, &tx);

    /* Header: y axis title at the left, title centred (but after it). */
    int after = L.x;
    if (header) {
        if (ytitle[0])
            after = L.x + canvas_text(c, L.x, L.y, ytitle, CANVAS_AXIS) + 2;
        plot_draw_title(p, c, L.x, L.y, L.w, after);
    }
    plot_draw_axes(c, &L, &sx, &sy, &tx, &ty);
    if (xrow) {
        int tw = canvas_strwidth(xtitle);
        int tx0 = L.ax + (L.aw - tw) / 2;
        canvas_text(c, tx0 < L.x ? L.x : tx0, L.ay + L.ah + 2, xtitle, CANVAS_AXIS);
    }

    /* Marker lines under the data, their labels over it, the legend over everything. */
    plot_draw_markers(p, c, &L, &sx, 0);
    if (have && heat)
        plot_draw_heat(p, c, &L, &sx, &sy, zlo, zhi);
    else if (have)
        plot_draw_lines(p, c, &L, &sx, &sy);
    plot_draw_markers(p, c, &L, &sx, 1);
    if (cbar)
        plot_draw_colorbar(c, &L, L.ax + L.aw + 2, ztop, L.ah >= 5 ? zmid : NULL, zbot);
    else if (have && !heat && p->legend)
        plot_draw_legend(p, c, &L);
    if (!have)
        canvas_text(c, L.ax + (L.aw - 7) / 2, L.ay + (L.ah - 1) / 2, "no data",
                    CANVAS_DEFAULT | CANVAS_DIM);

    p->drawn = 1;
    p->ax = L.ax, p->ay = L.ay, p->aw = L.aw, p->ah = L.ah;
    p->sx = sx, p->sy = sy;
out:
    c->clip_x0 = cx0, c->clip_y0 = cy0, c->clip_x1 = cx1, c->clip_y1 = cy1;
}

/* ---- after a draw --------------------------------------------------------------------- */

int plot_area(const struct plot *p, int *x, int *y, int *w, int *h)
{
    if (!p->drawn)
        return -1;
    if (x)
        *x = p->ax;
    if (y)
        *y = p->ay;
    if (w)
        *w = p->aw;
    if (h)
        *h = p->ah;
    return 0;
}

int plot_col_to_x(const struct plot *p, int col, double *x)
{
    if (!p->drawn || col < p->ax || col >= p->ax + p->aw)
        return -1;
    *x = plot_val(&p->sx, (double)(col - p->ax) + 0.5, (double)p->aw);
    return 0;
}

int plot_row_to_y(const struct plot *p, int row, double *y)
{
    if (!p->drawn || row < p->ay || row >= p->ay + p->ah)
        return -1;
    *y = plot_val(&p->sy, (double)(row - p->ay) + 0.5, (double)p->ah);
    return 0;
}

int plot_x_to_col(const struct plot *p, double x)
{
    if (!p->drawn || !isfinite(x))
        return -1;
    long k = plot_index(plot_pos(&p->sx, x, (double)p->aw), p->aw);
    return k < 0 || k >= p->aw ? -1 : p->ax + (int)k;
}
