/* Tests of the canvas and the plot widget: unit tests of the pieces (ticks, mapping, zoom,
 * decimation) and golden-text renderings in tests/golden/plot-*.txt.
 * INSITU_GOLDEN_UPDATE=1 rewrites the golden files instead of comparing; look at them then. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "insitu/canvas.h"
#include "insitu/plot.h"
#include "insitu/util.h"

Suite *plot_suite(void);

/* ---- helpers ---------------------------------------------------------------------------- */

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct strbuf b = {0};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        strbuf_add(&b, buf, n);
    fclose(f);
    return strbuf_take(&b);
}

/* Compare TEXT with tests/golden/NAME (paths are relative to the repository root, where the
 * tests run), or rewrite the file when INSITU_GOLDEN_UPDATE=1. On a mismatch the actual text
 * goes to $TMPDIR/NAME for a diff. */
static void golden_check(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "tests/golden/%s", name);
    const char *upd = getenv("INSITU_GOLDEN_UPDATE");
    if (upd && strcmp(upd, "1") == 0) {
        FILE *f = fopen(path, "wb");
        ck_assert_msg(f != NULL, "cannot write %s", path);
        fputs(text, f);
        ck_assert_int_eq(fclose(f), 0);
        return;
    }
    char *want = read_all(path);
    ck_assert_msg(want != NULL, "missing %s (run from the repository root; create it with "
                                "INSITU_GOLDEN_UPDATE=1)", path);
    if (strcmp(want, text) != 0) {
        const char *tmp = getenv("TMPDIR");
        char apath[512];
        snprintf(apath, sizeof apath, "%s/%s", tmp && *tmp ? tmp : "/tmp", name);
        FILE *f = fopen(apath, "wb");
        if (f) {
            fputs(text, f);
            fclose(f);
        }
        /* Report the first line that differs. */
        int line = 1;
        const char *a = want, *b = text;
        while (*a && *a == *b) {
            if (*a == '\n')
                line++;
            a++, b++;
        }
        char ea[160], eb[160];
        snprintf(ea, sizeof ea, "%.*s", (int)strcspn(a, "\n"), a);
        snprintf(eb, sizeof eb, "%.*s", (int)strcspn(b, "\n"), b);
        free(want);
        ck_abort_msg("%s differs at line %d (actual in %s):\n  want ...%s\n  got  ...%s", path,
                     line, apath, ea, eb);
    }
    free(want);
}

/* Render P alone on a W x H canvas. */
static char *render(struct plot *p, int w, int h, int utf8)
{
    struct canvas *c = canvas_new(w, h);
    canvas_set_utf8(c, utf8);
    plot_draw(p, c, 0, 0, w, h);
    struct strbuf b = {0};
    canvas_to_text(c, &b);
    canvas_free(c);
    return strbuf_take(&b);
}

static void golden_plot(struct plot *p, int w, int h, int utf8, const char *name)
{
    char *s = render(p, w, h, utf8);
    golden_check(name, s);
    free(s);
}

static int cell_is(const struct canvas *c, int x, int y, const char *ch)
{
    const struct canvas_cell *cell = canvas_cell(c, x, y);
    return cell && strcmp(cell->ch, ch) == 0;
}

/* Does column X of the canvas hold anything but blanks in rows [y0, y1)? */
static int column_inked(const struct canvas *c, int x, int y0, int y1)
{
    for (int y = y0; y < y1; y++)
        if (!cell_is(c, x, y, " "))
            return 1;
    return 0;
}

/* ---- data sets -------------------------------------------------------------------------- */

enum { SINE_N = 400, NMR_N = 1001, SPIKE_N = 100000, SPIKE_AT = 54321 };
static double sine_x[SINE_N], sine_y[SINE_N];
static double nmr_ppm[NMR_N], nmr_y[NMR_N];
static double *spike_y;

static void data_setup(void)
{
    for (int i = 0; i < SINE_N; i++) {
        sine_x[i] = i * (4 * M_PI / (SINE_N - 1));      /* two periods, in hours */
        sine_y[i] = sin(sine_x[i]);
    }
    /* A Lorentzian of 8 ppm FWHM at 245 ppm (lithium metal) on a 350 .. 100 ppm grid, in the
     * order spectrometers deliver it: descending ppm. */
    for (int i = 0; i < NMR_N; i++) {
        nmr_ppm[i] = 350 - i * 0.25;
        double d = (nmr_ppm[i] - 245) / 4;
        nmr_y[i] = 1 / (1 + d * d);
    }
    spike_y = util_calloc(SPIKE_N, sizeof *spike_y);
    spike_y[SPIKE_AT] = 1;
}

static void data_teardown(void)
{
    free(spike_y);
    spike_y = NULL;
}

static struct plot *sine_plot(void)
{
    struct plot *p = plot_new();
    plot_set_title(p, "sine");
    plot_set_xlabel(p, "time", "h");
    plot_set_ylabel(p, "U", "V");
    plot_add_series(p, NULL, 0, sine_x, sine_y, SINE_N);
    return p;
}

static struct plot *nmr_plot(void)
{
    struct plot *p = plot_new();
    plot_set_title(p, "7Li NMR");
    plot_set_xlabel(p, "shift", "ppm");
    plot_set_ylabel(p, "intensity", NULL);
    plot_set_xreverse(p, 1);
    plot_add_series(p, "Li metal", 0, nmr_ppm, nmr_y, NMR_N);
    plot_add_marker(p, 245, "245", 0);
    return p;
}

/* ---- canvas ----------------------------------------------------------------------------- */

START_TEST(test_canvas_text_clip)
{
    struct canvas *c = canvas_new(10, 3);
    ck_assert_int_eq(canvas_text(c, 7, 0, "hello", CANVAS_AXIS), 5);
    ck_assert_int_eq(canvas_text(c, -2, 1, "abcd", 0), 4);
    canvas_text(c, 0, 5, "gone", 0);
    canvas_put(c, -1, 0, "x", 0);
    struct strbuf b = {0};
    canvas_to_text(c, &b);
    ck_assert_str_eq(b.s, "       hel\ncd\n\n");
    ck_assert_uint_eq(canvas_cell(c, 7, 0)->style, CANVAS_AXIS);
    ck_assert_ptr_null(canvas_cell(c, 10, 0));
    ck_assert_ptr_null(canvas_cell(c, 0, -1));
    strbuf_free(&b);
    canvas_free(c);
}
END_TEST

START_TEST(test_canvas_utf8)
{
    struct canvas *c = canvas_new(8, 1);
    /* ASCII canvas: every non-ASCII character becomes one '?', so columns stay aligned. */
    ck_assert_int_eq(canvas_text(c, 0, 0, "\u00b5s\u2264x\t", 0), 5);
    ck_assert(cell_is(c, 0, 0, "?"));
    ck_assert(cell_is(c, 1, 0, "s"));
    ck_assert(cell_is(c, 2, 0, "?"));
    ck_assert(cell_is(c, 4, 0, "?"));       /* control character */
    canvas_set_utf8(c, 1);
    canvas_text(c, 0, 0, "\u00b5s", 0);
    ck_assert(cell_is(c, 0, 0, "\u00b5"));
    /* Malformed bytes: one '?' each, never half a sequence in a cell. */
    ck_assert_int_eq(canvas_text(c, 0, 0, "\xe2\x82x\xff", 0), 4);
    ck_assert(cell_is(c, 0, 0, "?"));
    ck_assert(cell_is(c, 2, 0, "x"));
    ck_assert(cell_is(c, 3, 0, "?"));
    ck_assert_int_eq(canvas_strwidth("\u00b5V \u2500"), 4);
    canvas_braille(c, 5, 0, 0xff, 0);
    ck_assert(cell_is(c, 5, 0, "\u28ff"));
    canvas_braille(c, 6, 0, 0x41, 0);
    ck_assert(cell_is(c, 6, 0, "\u2841"));
    canvas_free(c);
}
END_TEST

START_TEST(test_canvas_box_fill)
{
    struct canvas *c = canvas_new(6, 4);
    canvas_box(c, 0, 0, 6, 4, 0);
    canvas_fill(c, 1, 1, 4, 2, "#", 0);
    canvas_set_clip(c, 2, 0, 2, 4);
    canvas_fill(c, 0, 0, 6, 4, "o", 0);
    canvas_reset_clip(c);
    struct strbuf b = {0};
    canvas_to_text(c, &b);
    ck_assert_str_eq(b.s, "+-oo-+\n|#oo#|\n|#oo#|\n+-oo-+\n");
    strbuf_reset(&b);
    canvas_clear(c);
    canvas_set_utf8(c, 1);
    canvas_box(c, 1, 0, 4, 3, 0);
    canvas_to_text(c, &b);
    ck_assert_str_eq(b.s, " \u250c\u2500\u2500\u2510\n \u2502  \u2502\n \u2514\u2500\u2500\u2518\n\n");
    strbuf_free(&b);
    canvas_free(c);
}
END_TEST

/* ---- ticks and numbers ------------------------------------------------------------------ */

static void check_ticks(double lo, double hi, int target, int utf8, const char *want)
{
    struct plot_ticks t;
    plot_ticks(lo, hi, target, utf8, &t);
    struct strbuf b = {0};
    for (int i = 0; i < t.n; i++)
        strbuf_printf(&b, "%s%s", i ? " " : "", t.label[i]);
    ck_assert_msg(strcmp(b.s ? b.s : "", want) == 0, "ticks(%g, %g, %d): got \"%s\", want \"%s\"",
                  lo, hi, target, b.s ? b.s : "", want);
    strbuf_free(&b);
}

START_TEST(test_ticks)
{
    check_ticks(0, 1, 5, 0, "0.0 0.2 0.4 0.6 0.8 1.0");
    check_ticks(-1.1, 1.1, 4, 0, "-1.0 -0.5 0.0 0.5 1.0");
    check_ticks(100, 350, 5, 0, "100 150 200 250 300 350");
    check_ticks(0.1, 0.35, 5, 0, "0.10 0.15 0.20 0.25 0.30 0.35");
    check_ticks(0, 2e-8, 4, 0, "0 5n 10n 15n 20n");
    check_ticks(0, 20000, 4, 0, "0 5k 10k 15k 20k");
    check_ticks(0, 86400, 4, 0, "0 20k 40k 60k 80k");
    check_ticks(0, 4e-6, 4, 0, "0 1u 2u 3u 4u");
    check_ticks(0, 4e-6, 4, 1, "0 1\u00b5 2\u00b5 3\u00b5 4\u00b5");
    check_ticks(2.5e9, 4e9, 3, 0, "2.5G 3.0G 3.5G 4.0G");
    check_ticks(0, 4e30, 4, 0, "0 1e30 2e30 3e30 4e30");
    check_ticks(3.6, 3.8, 4, 0, "3.60 3.65 3.70 3.75 3.80");
    /* A lone tick at zero must not take the step's decimals: "0", not "0.0000000". */
    check_ticks(-3e-8, 4e-8, 1, 0, "0");
    check_ticks(1, 1, 5, 0, "");
    check_ticks(NAN, 1, 5, 0, "");
    check_ticks(0, INFINITY, 5, 0, "");

    struct plot_ticks t;
    ck_assert_int_eq(plot_ticks(0, 1, 1000, 0, &t), t.n);
    ck_assert_int_le(t.n, PLOT_MAX_TICKS);
    ck_assert_int_ge(t.n, 2);
    /* Every step is 1, 2 or 5 times a power of ten, and the ticks lie inside the range. */
    for (double span = 1e-7; span < 1e7; span *= 3.7) {
        plot_ticks(-span / 3, span, 5, 0, &t);
        double m = t.step / pow(10, floor(log10(t.step) + 1e-9));
        ck_assert_msg(fabs(m - 1) < 1e-9 || fabs(m - 2) < 1e-9 || fabs(m - 5) < 1e-9,
                      "step %g", t.step);
        ck_assert_int_ge(t.n, 3);
        ck_assert(t.v[0] >= -span / 3 - 1e-9 * span && t.v[t.n - 1] <= span * (1 + 1e-9));
    }
}
END_TEST

START_TEST(test_format_value)
{
    char buf[32];
    ck_assert_str_eq(plot_format_value(0.00123, 1e-5, 0, buf, sizeof buf), "1.23m");
    ck_assert_str_eq(plot_format_value(1234567, 1000, 0, buf, sizeof buf), "1.235M");
    ck_assert_str_eq(plot_format_value(0.001, 200, 0, buf, sizeof buf), "0");
    ck_assert_str_eq(plot_format_value(-0.0001, 0.1, 0, buf, sizeof buf), "0.0");
    ck_assert_str_eq(plot_format_value(5e-9, 1e-9, 0, buf, sizeof buf), "5n");
    ck_assert_str_eq(plot_format_value(3.75, 0.01, 0, buf, sizeof buf), "3.75");
    ck_assert_str_eq(plot_format_value(NAN, 1, 0, buf, sizeof buf), "nan");
}
END_TEST

/* ---- mapping, ranges, zoom -------------------------------------------------------------- */

START_TEST(test_reverse_axis)
{
    struct plot *p = nmr_plot();
    struct canvas *c = canvas_new(80, 20);
    plot_draw(p, c, 0, 0, 80, 20);
    int ax, ay, aw, ah;
    ck_assert_int_eq(plot_area(p, &ax, &ay, &aw, &ah), 0);
    /* Reversed: 350 ppm in the first column, 100 in the last, 245 at 105/250 of the width. */
    ck_assert_int_eq(plot_x_to_col(p, 350), ax);
    ck_assert_int_eq(plot_x_to_col(p, 100), ax + aw - 1);
    ck_assert_int_eq(plot_x_to_col(p, 245), ax + (int)(105.0 / 250 * aw));
    ck_assert_int_eq(plot_x_to_col(p, 351), -1);
    ck_assert_int_eq(plot_x_to_col(p, 99), -1);
    double x;
    ck_assert_int_eq(plot_col_to_x(p, ax, &x), 0);
    ck_assert_double_eq_tol(x, 350 - 0.5 * 250.0 / aw, 1e-9);
    ck_assert_int_eq(plot_col_to_x(p, ax + aw - 1, &x), 0);
    ck_assert_double_eq_tol(x, 100 + 0.5 * 250.0 / aw, 1e-9);
    ck_assert_int_eq(plot_col_to_x(p, ax - 1, &x), -1);
    ck_assert_int_eq(plot_col_to_x(p, ax + aw, &x), -1);
    /* Column -> value -> column is the identity. */
    for (int col = ax; col < ax + aw; col++) {
        ck_assert_int_eq(plot_col_to_x(p, col, &x), 0);
        ck_assert_int_eq(plot_x_to_col(p, x), col);
    }
    /* The peak's top is drawn in the column of 245 ppm, near the top row. */
    int pc = plot_x_to_col(p, 245);
    ck_assert(column_inked(c, pc, ay, ay + 2));
    ck_assert(!column_inked(c, plot_x_to_col(p, 300), ay, ay + ah / 2));
    double y;
    ck_assert_int_eq(plot_row_to_y(p, ay, &y), 0);
    ck_assert(y > 0.95 && y < 1.05);

    /* Not reversed: the other way round. */
    canvas_clear(c);
    plot_set_xreverse(p, 0);
    plot_draw(p, c, 0, 0, 80, 20);
    ck_assert_int_eq(plot_x_to_col(p, 100), ax);
    ck_assert_int_eq(plot_x_to_col(p, 350), ax + aw - 1);
    ck_assert_int_eq(plot_x_to_col(p, 245), ax + (int)(145.0 / 250 * aw));
    plot_free(p);
    canvas_free(c);
}
END_TEST

START_TEST(test_autoscale)
{
    double xlo, xhi, ylo, yhi;
    struct plot *p = plot_new();
    plot_get_ranges(p, &xlo, &xhi, &ylo, &yhi);
    ck_assert(xlo == 0 && xhi == 1 && ylo == 0 && yhi == 1);

    /* x exact, y with 5 % margins; non-finite points ignored. */
    double x[] = {1, 2, NAN, 3, INFINITY, 4}, y[] = {10, 20, 1e9, 30, 1e9, NAN};
    plot_add_series(p, "a", 0, x, y, 6);
    plot_get_ranges(p, &xlo, &xhi, &ylo, &yhi);
    ck_assert_double_eq(xlo, 1);
    ck_assert_double_eq(xhi, 3);
    ck_assert_double_eq_tol(ylo, 9, 1e-12);
    ck_assert_double_eq_tol(yhi, 31, 1e-12);

    /* Flat data: +-10 % of the value; a single point: the same on both axes. */
    double fy[] = {3.7, 3.7, 3.7};
    plot_set_data(p, 0, NULL, fy, 3);
    plot_get_ranges(p, &xlo, &xhi, &ylo, &yhi);
    ck_assert_double_eq(xlo, 0);
    ck_assert_double_eq(xhi, 2);
    ck_assert_double_eq_tol(ylo, 3.33, 1e-12);
    ck_assert_double_eq_tol(yhi, 4.07, 1e-12);
    double zx = 0, zy = 0;
    plot_set_data(p, 0, &zx, &zy, 1);
    plot_get_ranges(p, &xlo, &xhi, &ylo, &yhi);
    ck_assert(xlo == -1 && xhi == 1 && ylo == -1 && yhi == 1);

    /* Fixed ranges, in either order; equal bounds mean autoscale again. */
    plot_set_data(p, 0, x, y, 6);
    plot_set_xrange(p, 5, -5);
    plot_set_yrange(p, 0, 100);
    plot_get_ranges(p, &xlo, &xhi, &ylo, &yhi);
    ck_assert(xlo == -5 && xhi == 5 && ylo == 0 && yhi == 100);
    plot_set_yrange(p, 7, 7);
    plot_set_xrange(p, 1.5, 2.5);
    plot_get_ranges(p, NULL, NULL, &ylo, &yhi);
    /* y fits what is in view: the point (2, 20) and the line from (1, 10) where it enters at
     * x = 1.5 (y = 15); the NaN breaks the line to (3, 30). 15 .. 20 plus 5 %. */
    ck_assert_double_eq_tol(ylo, 14.75, 1e-12);
    ck_assert_double_eq_tol(yhi, 20.25, 1e-12);
    plot_free(p);
}
END_TEST

START_TEST(test_zoom_pan)
{
    double xlo, xhi, ylo, yhi;
    double x[] = {0, 100}, y[] = {0, 10};
    struct plot *p = plot_new();
    plot_add_series(p, NULL, 0, x, y, 2);
    plot_zoom(p, PLOT_X, 2);
    plot_get_ranges(p, &xlo, &xhi, NULL, NULL);
    ck_assert_double_eq_tol(xlo, 25, 1e-9);
    ck_assert_double_eq_tol(xhi, 75, 1e-9);
    plot_pan(p, PLOT_X, 0.1);
    plot_get_ranges(p, &xlo, &xhi, NULL, NULL);
    ck_assert_double_eq_tol(xlo, 30, 1e-9);
    ck_assert_double_eq_tol(xhi, 80, 1e-9);
    plot_zoom(p, PLOT_X, 0.5);                  /* zoom out */
    plot_get_ranges(p, &xlo, &xhi, NULL, NULL);
    ck_assert_double_eq_tol(xlo, 5, 1e-9);
    ck_assert_double_eq_tol(xhi, 105, 1e-9);
    plot_reset(p, PLOT_XY);
    plot_get_ranges(p, &xlo, &xhi, NULL, NULL);
    ck_assert(xlo == 0 && xhi == 100);

    /* About a point: x = 10 stays where it is (10 % from the left edge). */
    plot_zoom_at(p, PLOT_X, 2, 10, NAN);
    plot_get_ranges(p, &xlo, &xhi, NULL, NULL);
    ck_assert_double_eq_tol(xlo, 5, 1e-9);
    ck_assert_double_eq_tol(xhi, 55, 1e-9);
    ck_assert_double_eq_tol((10 - xlo) / (xhi - xlo), 0.1, 1e-12);

    /* Reversed x: panning right (positive) shows lower values. */
    plot_reset(p, PLOT_X);
    plot_set_xreverse(p, 1);
    plot_zoom(p, PLOT_X, 2);
    plot_pan(p, PLOT_X, 0.1);
    plot_get_ranges(p, &xlo, &xhi, NULL, NULL);
    ck_assert_double_eq_tol(xlo, 20, 1e-9);
    ck_assert_double_eq_tol(xhi, 70, 1e-9);

    /* y fits the visible part of the line (x 20 .. 70: y 2 .. 7, + 5 % margins) even though no
     * data point lies in view. */
    plot_get_ranges(p, NULL, NULL, &ylo, &yhi);
    ck_assert_double_eq_tol(ylo, 1.75, 1e-9);
    ck_assert_double_eq_tol(yhi, 7.25, 1e-9);

    /* y: positive pan goes up to higher values; zooming an autoscaled y freezes it first. */
    plot_reset(p, PLOT_XY);
    plot_get_ranges(p, NULL, NULL, &ylo, &yhi);
    ck_assert_double_eq_tol(ylo, -0.5, 1e-9);
    ck_assert_double_eq_tol(yhi, 10.5, 1e-9);
    plot_pan(p, PLOT_Y, 0.5);
    plot_get_ranges(p, NULL, NULL, &ylo, &yhi);
    ck_assert_double_eq_tol(ylo, 5, 1e-9);
    ck_assert_double_eq_tol(yhi, 16, 1e-9);
    plot_zoom(p, PLOT_Y, 11);
    plot_get_ranges(p, NULL, NULL, &ylo, &yhi);
    ck_assert_double_eq_tol(ylo, 10, 1e-9);
    ck_assert_double_eq_tol(yhi, 11, 1e-9);

    /* Nonsense factors are ignored; extreme zoom stops at a representable range. */
    plot_zoom(p, PLOT_XY, 0);
    plot_zoom(p, PLOT_XY, NAN);
    plot_pan(p, PLOT_XY, INFINITY);
    plot_get_ranges(p, NULL, NULL, &ylo, &yhi);
    ck_assert_double_eq_tol(ylo, 10, 1e-9);
    for (int i = 0; i < 100; i++)
        plot_zoom(p, PLOT_XY, 1e6);
    plot_get_ranges(p, &xlo, &xhi, &ylo, &yhi);
    ck_assert(xhi > xlo && yhi > ylo);
    struct canvas *c = canvas_new(40, 12);
    plot_draw(p, c, 0, 0, 40, 12);
    canvas_free(c);
    plot_free(p);
}
END_TEST

START_TEST(test_x_index)
{
    /* x NULL: the sample index. */
    double y[] = {5, 6, 7, 8};
    struct plot *p = plot_new();
    plot_add_series(p, NULL, 0, NULL, y, 4);
    double xlo, xhi;
    plot_get_ranges(p, &xlo, &xhi, NULL, NULL);
    ck_assert(xlo == 0 && xhi == 3);
    plot_free(p);
}
END_TEST

/* ---- decimation ------------------------------------------------------------------------- */

/* The single nonzero sample of 100000 must show as a full-height column where it is. */
static void check_spike(int utf8, double sign)
{
    spike_y[SPIKE_AT] = sign;
    struct plot *p = plot_new();
    plot_add_series(p, NULL, 0, NULL, spike_y, SPIKE_N);
    struct canvas *c = canvas_new(60, 12);
    canvas_set_utf8(c, utf8);
    plot_draw(p, c, 0, 0, 60, 12);
    int ax, ay, aw, ah;
    ck_assert_int_eq(plot_area(p, &ax, &ay, &aw, &ah), 0);
    int col = plot_x_to_col(p, SPIKE_AT);
    ck_assert_int_ge(col, ax);
    for (int r = ay; r < ay + ah; r++)
        ck_assert_msg(!cell_is(c, col, r, " "), "spike missing at row %d (utf8 %d)", r, utf8);
    /* and only there: the neighbours show the baseline alone */
    for (int k = ax; k < ax + aw; k++)
        if (k != col)
            ck_assert_int_eq(column_inked(c, k, sign > 0 ? ay : ay + 2, ay + ah - 2), 0);
    spike_y[SPIKE_AT] = 1;
    plot_free(p);
    canvas_free(c);
}

START_TEST(test_spike_decimation)
{
    check_spike(0, 1);
    check_spike(1, 1);
    check_spike(0, -1);
    check_spike(1, -1);
}
END_TEST

START_TEST(test_draw_speed)
{
    /* 64k points into 120x40. The real figure is about 0.25 ms at -O2; the bound is loose for
     * sanitizer builds and busy machines, but catches an O(points x height) regression. */
    enum { N = 65536 };
    double *x = util_malloc(N * sizeof *x), *y = util_malloc(N * sizeof *y);
    unsigned r = 1;
    for (int i = 0; i < N; i++) {
        r = r * 1103515245u + 12345u;
        x[i] = i;
        y[i] = (double)(r >> 8) / (1u << 24);   /* white noise: every column spans it all */
    }
    struct plot *p = plot_new();
    plot_add_series(p, "noise", 0, x, y, N);
    struct canvas *c = canvas_new(120, 40);
    canvas_set_utf8(c, 1);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 20; i++)
        plot_draw(p, c, 0, 0, 120, 40);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = ((double)(t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) * 1e-6) / 20;
    ck_assert_msg(ms < 25, "draw took %.2f ms", ms);
    plot_free(p);
    canvas_free(c);
    free(x);
    free(y);
}
END_TEST

/* ---- heat map --------------------------------------------------------------------------- */

START_TEST(test_heat_agg)
{
    /* 4 x 4 values at x, y = 0, 0.1, 10, 10.1 on fixed 0 .. 20 ranges: the 2 x 2 blocks fall
     * into single cells (two rows of cells, many columns). */
    double z[16] = {0, 8, 1, 1,
                    0, 0, 1, 1,
                    2, 2, 4, 4,
                    2, 2, 4, 4};
    double v[4] = {0, 0.1, 10, 10.1};
    struct plot *p = plot_new();
    plot_set_heat(p, z, 4, 4, v, v);
    plot_set_zrange(p, 0, 8);
    plot_set_xrange(p, 0, 20);
    plot_set_yrange(p, 0, 20);
    struct canvas *c = canvas_new(14, 4);
    plot_draw(p, c, 0, 0, 14, 4);
    int ax, ay, aw, ah;
    ck_assert_int_eq(plot_area(p, &ax, &ay, &aw, &ah), 0);
    ck_assert_int_eq(ah, 2);
    int c0 = plot_x_to_col(p, 0), c1 = plot_x_to_col(p, 10);
    ck_assert_int_eq(c0, ax);
    ck_assert_int_eq(plot_x_to_col(p, 0.1), c0);
    ck_assert_int_eq(plot_x_to_col(p, 10.1), c1);
    /* max: 8 -> '@' (level 7); 1 -> t = .125 -> '.' (1); 2 -> t = .25 -> ':' (2); 4 -> '+' (4) */
    ck_assert(cell_is(c, c0, ay, "@"));
    ck_assert_uint_eq(canvas_cell(c, c0, ay)->style, CANVAS_HEAT(7));
    ck_assert(cell_is(c, c1, ay, "."));
    ck_assert_uint_eq(canvas_cell(c, c1, ay)->style, CANVAS_HEAT(1));
    ck_assert(cell_is(c, c0, ay + 1, ":"));
    ck_assert(cell_is(c, c1, ay + 1, "+"));
    ck_assert_uint_eq(canvas_cell(c, c1, ay + 1)->style, CANVAS_HEAT(4));
    /* mean: (0 + 8 + 0 + 0) / 4 = 2 -> ':' */
    plot_set_heat_agg(p, PLOT_HEAT_MEAN);
    plot_draw(p, c, 0, 0, 14, 4);
    ck_assert(cell_is(c, c0, ay, ":"));
    ck_assert_uint_eq(canvas_cell(c, c0, ay)->style, CANVAS_HEAT(2));
    ck_assert(cell_is(c, c1, ay + 1, "+"));

    /* NaN values are skipped; a cell with nothing finite stays blank. */
    double zn[4] = {NAN, NAN, 8, NAN};
    plot_set_heat(p, zn, 2, 2, NULL, NULL);
    plot_set_xrange(p, -0.5, 1.5);
    plot_set_yrange(p, -0.5, 1.5);
    canvas_clear(c);
    plot_draw(p, c, 0, 0, 14, 4);
    ck_assert_int_eq(plot_area(p, &ax, &ay, &aw, &ah), 0);
    c0 = plot_x_to_col(p, 0);
    c1 = plot_x_to_col(p, 1);
    ck_assert(cell_is(c, c0, ay, " ") && cell_is(c, c1, ay, " "));
    ck_assert(cell_is(c, c0, ay + 1, "@"));
    ck_assert(cell_is(c, c1, ay + 1, " "));
    plot_free(p);
    canvas_free(c);
}
END_TEST

START_TEST(test_heat_sparse)
{
    /* 2 x 3 values on a much larger area fill it in blocks, row 0 at the top. */
    double z[6] = {0, 5, 10,
                   10, 5, 0};
    double xs[3] = {30, 20, 10};                /* descending x is fine */
    struct plot *p = plot_new();
    plot_set_heat(p, z, 2, 3, xs, NULL);
    plot_set_zrange(p, 0, 10);
    struct canvas *c = canvas_new(30, 10);
    plot_draw(p, c, 0, 0, 30, 10);
    int ax, ay, aw, ah;
    ck_assert_int_eq(plot_area(p, &ax, &ay, &aw, &ah), 0);
    /* no blank cell anywhere except where the value is 0 (ramp ' ') */
    for (int r = ay; r < ay + ah; r++)
        for (int k = ax; k < ax + aw; k++) {
            double xv, yv;
            plot_col_to_x(p, k, &xv);
            plot_row_to_y(p, r, &yv);
            int row = yv < 0.5 ? 0 : 1, col = xv > 25 ? 0 : xv > 15 ? 1 : 2;
            double v = z[row * 3 + col];
            const char *want = v == 0 ? " " : v == 5 ? "+" : "@";
            ck_assert_msg(cell_is(c, k, r, want), "cell %d,%d: '%s', want '%s'", k, r,
                          canvas_cell(c, k, r)->ch, want);
            ck_assert_uint_eq(canvas_cell(c, k, r)->style,
                              CANVAS_HEAT(v == 0 ? 0 : v == 5 ? 4 : 7));
        }
    /* y = 0 (row 0) at the top */
    double yv;
    plot_row_to_y(p, ay, &yv);
    ck_assert(yv < 0.5);
    plot_free(p);
    canvas_free(c);
}
END_TEST

/* ---- robustness ------------------------------------------------------------------------- */

START_TEST(test_tiny_and_clipped)
{
    /* Every small size at several offsets, some hanging off the canvas: nothing outside the
     * rectangle may change (and ASan checks the rest). */
    struct plot *p = nmr_plot();
    plot_add_series(p, "second", 0, sine_x, sine_y, SINE_N);
    struct canvas *c = canvas_new(30, 12);
    for (int utf8 = 0; utf8 < 2; utf8++)
        for (int h = -1; h <= 13; h++)
            for (int w = -1; w <= 32; w += 3)
                for (int off = -6; off <= 20; off += 13) {
                    canvas_set_utf8(c, utf8);
                    canvas_fill(c, 0, 0, 30, 12, "~", 0);
                    plot_draw(p, c, off, off / 2, w, h);
                    for (int y = 0; y < 12; y++)
                        for (int x = 0; x < 30; x++) {
                            int inside = x >= off && x < off + w && y >= off / 2 &&
                                         y < off / 2 + h;
                            if (!inside)
                                ck_assert_msg(cell_is(c, x, y, "~"),
                                              "wrote %d,%d drawing %dx%d at %d", x, y, w, h, off);
                        }
                    ck_assert_int_eq(c->clip_x0, 0);
                    ck_assert_int_eq(c->clip_x1, 30);
                }
    /* A caller's clip is respected too. */
    canvas_fill(c, 0, 0, 30, 12, "~", 0);
    canvas_set_clip(c, 0, 0, 10, 12);
    plot_draw(p, c, 0, 0, 30, 12);
    ck_assert(cell_is(c, 10, 5, "~"));
    ck_assert_int_eq(c->clip_x1, 10);
    plot_free(p);
    canvas_free(c);
}
END_TEST

START_TEST(test_extreme_values)
{
    double x[] = {-1e308, 0, 1e308, 1, 2}, y[] = {1e308, -1e308, 0, 5e-324, -5e-324};
    struct plot *p = plot_new();
    plot_add_series(p, "big", 0, x, y, 5);
    struct canvas *c = canvas_new(40, 12);
    for (int utf8 = 0; utf8 < 2; utf8++) {
        canvas_set_utf8(c, utf8);
        plot_draw(p, c, 0, 0, 40, 12);
        plot_set_xrange(p, 0.5, 1.5);           /* points far outside the view */
        plot_draw(p, c, 0, 0, 40, 12);
        plot_set_yrange(p, -1e-300, 1e-300);
        plot_draw(p, c, 0, 0, 40, 12);
        plot_reset(p, PLOT_XY);
    }
    ck_assert_int_eq(plot_area(p, NULL, NULL, NULL, NULL), 0);
    /* Many series, markers and everything at once, more than the limits allow. */
    for (int i = 0; i < PLOT_MAX_SERIES + 2; i++)
        plot_add_series(p, "s", 0, x, y, 5);
    ck_assert_int_eq(plot_series_count(p), PLOT_MAX_SERIES);
    for (int i = 0; i < PLOT_MAX_MARKERS + 2; i++)
        plot_add_marker(p, i, "m", 0);
    plot_draw(p, c, 0, 0, 40, 12);
    plot_free(p);
    canvas_free(c);
}
END_TEST

/* ---- golden ----------------------------------------------------------------------------- */

START_TEST(test_golden_sine)
{
    struct plot *p = sine_plot();
    golden_plot(p, 72, 20, 0, "plot-sine-ascii.txt");
    golden_plot(p, 72, 20, 1, "plot-sine-braille.txt");
    plot_free(p);
}
END_TEST

START_TEST(test_golden_nmr)
{
    struct plot *p = nmr_plot();
    golden_plot(p, 72, 20, 0, "plot-nmr-ascii.txt");
    golden_plot(p, 72, 20, 1, "plot-nmr-braille.txt");
    /* zoomed into the peak, about it */
    plot_zoom_at(p, PLOT_X, 5, 245, NAN);
    golden_plot(p, 72, 20, 1, "plot-nmr-zoom-braille.txt");
    plot_free(p);
}
END_TEST

START_TEST(test_golden_two_series)
{
    enum { N = 500 };
    static double t[N], u[N], i_ma[N];
    for (int k = 0; k < N; k++) {
        t[k] = k * 0.01;
        u[k] = 3.2 + 0.2 * t[k] - 0.2 * sin(3 * t[k]);
        i_ma[k] = 2 * cos(3 * t[k]);
    }
    struct plot *p = plot_new();
    plot_set_title(p, "cycling");
    plot_set_xlabel(p, "time", "h");
    plot_add_series(p, "cell voltage [V]", 0, t, u, N);
    plot_add_series(p, "current [mA]", 0, t, i_ma, N);
    golden_plot(p, 72, 20, 0, "plot-two-ascii.txt");
    golden_plot(p, 72, 20, 1, "plot-two-braille.txt");
    plot_free(p);
}
END_TEST

START_TEST(test_golden_spike)
{
    struct plot *p = plot_new();
    plot_set_title(p, "one spike in 100000 samples");
    plot_set_xlabel(p, "sample", NULL);
    plot_add_series(p, "signal", 0, NULL, spike_y, SPIKE_N);
    golden_plot(p, 60, 14, 0, "plot-spike-ascii.txt");
    golden_plot(p, 60, 14, 1, "plot-spike-braille.txt");
    plot_free(p);
}
END_TEST

START_TEST(test_golden_heat)
{
    /* A 2-D Gaussian on time x ppm: centred at 245 ppm and 5 h, rows every 15 min. */
    enum { R = 40, C = 200 };
    static double z[R * C], ppm[C], hours[R];
    for (int j = 0; j < C; j++)
        ppm[j] = 350 - j * 250.0 / (C - 1);
    for (int i = 0; i < R; i++)
        hours[i] = i * 0.25;
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++) {
            double a = (ppm[j] - 245) / 30, b = (hours[i] - 5) / 2.5;
            z[i * C + j] = 1000 * exp(-(a * a + b * b) / 2);
        }
    struct plot *p = plot_new();
    plot_set_title(p, "7Li intensity");
    plot_set_xlabel(p, "shift", "ppm");
    plot_set_ylabel(p, "time", "h");
    plot_set_xreverse(p, 1);
    plot_set_heat(p, z, R, C, ppm, hours);
    golden_plot(p, 72, 24, 0, "plot-heat-ascii.txt");
    golden_plot(p, 72, 24, 1, "plot-heat-utf8.txt");
    plot_free(p);
}
END_TEST

START_TEST(test_golden_empty_nan)
{
    struct plot *p = plot_new();
    plot_set_title(p, "empty");
    plot_set_xlabel(p, "time", "h");
    plot_add_series(p, "x", 0, NULL, NULL, 0);
    golden_plot(p, 40, 10, 0, "plot-empty-ascii.txt");

    /* A ramp in nV with NaN gaps (every 20 samples, 5 missing) and an infinite x. */
    static double nx[60], ny[60];
    for (int i = 0; i < 60; i++) {
        nx[i] = i;
        ny[i] = i % 20 >= 15 ? NAN : i * 1e-9;
    }
    nx[3] = INFINITY;
    plot_set_title(p, "gaps");
    plot_set_ylabel(p, "U", "V");
    plot_set_data(p, 0, nx, ny, 60);
    golden_plot(p, 50, 12, 0, "plot-nan-ascii.txt");
    golden_plot(p, 50, 12, 1, "plot-nan-braille.txt");
    plot_free(p);
}
END_TEST

START_TEST(test_golden_tiny)
{
    /* Several small plots side by side on one canvas: title only below 10x4, a bare plot just
     * above, and one hanging off the right edge. */
    struct plot *p = sine_plot();
    plot_set_ylabel(p, NULL, NULL);
    struct canvas *c = canvas_new(60, 8);
    plot_draw(p, c, 0, 0, 9, 8);
    plot_draw(p, c, 10, 0, 14, 3);
    plot_draw(p, c, 10, 3, 14, 5);
    plot_draw(p, c, 25, 0, 16, 8);
    plot_draw(p, c, 42, 0, 40, 8);
    struct strbuf b = {0};
    canvas_to_text(c, &b);
    golden_check("plot-tiny-ascii.txt", b.s);
    strbuf_free(&b);
    canvas_free(c);
    plot_free(p);
}
END_TEST

Suite *plot_suite(void)
{
    Suite *s = suite_create("plot");
    TCase *tc = tcase_create("canvas");
    tcase_add_test(tc, test_canvas_text_clip);
    tcase_add_test(tc, test_canvas_utf8);
    tcase_add_test(tc, test_canvas_box_fill);
    suite_add_tcase(s, tc);

    tc = tcase_create("math");
    tcase_add_checked_fixture(tc, data_setup, data_teardown);
    tcase_add_test(tc, test_ticks);
    tcase_add_test(tc, test_format_value);
    tcase_add_test(tc, test_reverse_axis);
    tcase_add_test(tc, test_autoscale);
    tcase_add_test(tc, test_zoom_pan);
    tcase_add_test(tc, test_x_index);
    tcase_add_test(tc, test_spike_decimation);
    tcase_add_test(tc, test_draw_speed);
    tcase_add_test(tc, test_heat_agg);
    tcase_add_test(tc, test_heat_sparse);
    tcase_add_test(tc, test_tiny_and_clipped);
    tcase_add_test(tc, test_extreme_values);
    suite_add_tcase(s, tc);

    tc = tcase_create("golden");
    tcase_add_checked_fixture(tc, data_setup, data_teardown);
    tcase_add_test(tc, test_golden_sine);
    tcase_add_test(tc, test_golden_nmr);
    tcase_add_test(tc, test_golden_two_series);
    tcase_add_test(tc, test_golden_spike);
    tcase_add_test(tc, test_golden_heat);
    tcase_add_test(tc, test_golden_empty_nan);
    tcase_add_test(tc, test_golden_tiny);
    suite_add_tcase(s, tc);
    return s;
}
