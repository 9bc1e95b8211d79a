/* plot: x-y line plots and heat maps drawn into a canvas (see canvas.h), the widget behind every
 * data pane.
 *
 * Data is BORROWED, never copied: a series or heat map keeps the caller's pointers, which must
 * stay valid (and unchanged in length) until the next plot_set_data / plot_set_heat /
 * plot_clear_series call. Anything that reads the data (plot_draw, plot_get_ranges, plot_zoom,
 * plot_pan) dereferences them. Growing arrays that may be realloc'ed must therefore be handed
 * in again before each draw; that costs nothing and avoids copying 100k points per frame.
 *
 * Drawing is O(points + cells): consecutive points falling into the same dot column are reduced
 * to their min..max span, so a one-sample spike among 100000 samples still shows.
 *
 * Resolution: with canvas->utf8 every cell is a braille character with 2x4 dots; in ASCII a cell
 * has 1x3 sub-rows, drawn as '\'' '-' '.' where the line is flat, '/' '\\' where it climbs and '|'
 * where it is steep, when there is one series; with several, each series draws one marker
 * character ('*' 'o' 'x' '+' '#' '@' '%' '&'; '+' late because the axis ticks use it).
 *
 * Layout inside the rectangle given to plot_draw, top to bottom: a header row ("label [units]"
 * of y at the left, the title centred), the plot area with the y tick labels and axis on its
 * left, the x axis, the x tick labels, and "label [units]" of x (only when h >= 8). Heat maps
 * add a colour bar on the right. Rectangles narrower than 10 or lower than 4 cells get the title
 * only. */
#ifndef INSITU_PLOT_H
#define INSITU_PLOT_H

#include <stddef.h>

struct canvas;
struct plot;

#define PLOT_MAX_SERIES 8
#define PLOT_MAX_MARKERS 8
#define PLOT_MAX_TICKS 24

enum plot_axis { PLOT_X = 1, PLOT_Y = 2, PLOT_XY = 3 };
enum plot_mode { PLOT_LINES, PLOT_HEAT };
enum plot_heat_agg { PLOT_HEAT_MAX, PLOT_HEAT_MEAN };

struct plot *plot_new(void);
void plot_free(struct plot *p);

/* Texts are copied; NULL or "" removes. Units are shown as "label [units]". */
void plot_set_title(struct plot *p, const char *title);
void plot_set_xlabel(struct plot *p, const char *label, const char *units);
void plot_set_ylabel(struct plot *p, const char *label, const char *units);
void plot_set_legend(struct plot *p, int on);           /* default on */
/* x decreasing to the right (NMR: 350 ppm at the left, 100 ppm at the right). */
void plot_set_xreverse(struct plot *p, int on);
void plot_set_mode(struct plot *p, enum plot_mode mode);

/* Add a series (up to PLOT_MAX_SERIES) of N points; X may be NULL for x = 0, 1, 2, ...
 * STYLE 0 picks CANVAS_SERIES(index). Non-finite points are skipped and break the line.
 * Returns the series index or -1 when full. The label is copied, the arrays are borrowed. */
int plot_add_series(struct plot *p, const char *label, unsigned style, const double *x,
                    const double *y, size_t n);
/* The ASCII marker character of a series when several share the plot (printable ASCII; the
 * default is the series' place in the list above), e.g. '.' for a faint reference trace. */
void plot_set_marker(struct plot *p, int series, char marker);
/* Hand in new (or moved) data for an existing series. */
void plot_set_data(struct plot *p, int series, const double *x, const double *y, size_t n);
void plot_clear_series(struct plot *p);
int plot_series_count(const struct plot *p);

/* Heat map of a ROWS x COLS row-major matrix Z (borrowed, like series data): column j is at
 * x = XCOL[j], row i at y = YROW[i] (either may be NULL for indices); both must be monotonic,
 * in either direction. Row 0 is drawn at the top whatever its y value. Each cell shows the max
 * (or mean) of the finite values falling into it, or the nearest row/column when the data is
 * sparser than the cells. Selects PLOT_HEAT mode. */
void plot_set_heat(struct plot *p, const double *z, size_t rows, size_t cols, const double *xcol,
                   const double *yrow);
void plot_set_heat_agg(struct plot *p, enum plot_heat_agg agg);
/* Fixed colour scale; lo >= hi or non-finite: automatic (min..max of all finite values). */
void plot_set_zrange(struct plot *p, double lo, double hi);
/* The shading ramp used for heat cells, lowest level first: " .:-=+*#%@". */
extern const char plot_heat_ramp[];

/* Vertical marker lines (a Larmor frequency, a cursor) with an optional label (copied).
 * STYLE 0 is CANVAS_HIGHLIGHT. plot_add_marker returns the index or -1 when full. */
int plot_add_marker(struct plot *p, double x, const char *label, unsigned style);
void plot_move_marker(struct plot *p, int marker, double x);
void plot_clear_markers(struct plot *p);

/* Fixed range of an axis (either order); lo == hi or non-finite: back to autoscale.
 * Autoscale: x spans the data exactly; y spans the data whose x is in view plus 5 % on each
 * side; flat data gets +-10 % around its value (+-1 around 0); no data shows 0..1. */
void plot_set_xrange(struct plot *p, double lo, double hi);
void plot_set_yrange(struct plot *p, double lo, double hi);
/* Back to autoscale for AXES (PLOT_X, PLOT_Y or PLOT_XY): undoes zoom and pan. */
void plot_reset(struct plot *p, unsigned axes);
/* Zoom AXES by FACTOR (> 1 zooms in: the range shrinks FACTOR times) about the centre of the
 * view, or about the data point (X, Y), which stays where it is on the screen (NAN: centre).
 * An autoscaled axis first freezes at its current range. */
void plot_zoom(struct plot *p, unsigned axes, double factor);
void plot_zoom_at(struct plot *p, unsigned axes, double factor, double x, double y);
/* Move the view of AXES by FRAC of its range in screen terms: FRAC > 0 shows what lies to the
 * right (x, whether or not reversed) or above (y). */
void plot_pan(struct plot *p, unsigned axes, double frac);
/* The ranges now in force (fixed or autoscaled), lo < hi. Any pointer may be NULL. */
void plot_get_ranges(const struct plot *p, double *xlo, double *xhi, double *ylo, double *yhi);

/* Draw into the rectangle (clipped to the canvas; nothing outside it is touched). The
 * rectangle is not cleared first: clear it if something was there. */
void plot_draw(struct plot *p, struct canvas *c, int x, int y, int w, int h);

/* After a draw: the data area in canvas cells. Returns 0, or -1 if nothing was plotted. */
int plot_area(const struct plot *p, int *x, int *y, int *w, int *h);
/* After a draw: the x value at the centre of canvas column COL (for a cursor readout), the y
 * value at the centre of canvas row ROW. Return 0, or -1 outside the data area. */
int plot_col_to_x(const struct plot *p, int col, double *x);
int plot_row_to_y(const struct plot *p, int row, double *y);
/* After a draw: the canvas column showing X, or -1 when X is out of view. */
int plot_x_to_col(const struct plot *p, double x);

/* Tick values at nice numbers (1, 2 or 5 x 10^n) inside [lo, hi], about TARGET intervals, with
 * compact labels sharing one SI prefix: 0 5n 10n; 0 0.5 1; 0 20k 40k; "u" for micro unless UTF8
 * ("µ"). Exponents beyond the prefixes (1e-24..1e24) are written as "1e30". */
struct plot_ticks {
    int n;
    double step;
    double v[PLOT_MAX_TICKS];
    char label[PLOT_MAX_TICKS][16];
};
int plot_ticks(double lo, double hi, int target, int utf8, struct plot_ticks *t);
/* One value written like a tick label, with digits down to RESOLUTION: 0.00123,1e-5 -> "1.23m".
 * Returns buf. */
char *plot_format_value(double v, double resolution, int utf8, char *buf, size_t len);

#endif
