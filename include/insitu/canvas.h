/* canvas: an off-screen grid of styled character cells.
 *
 * Widgets (plots, tables) draw into a canvas instead of the terminal so that they can be tested
 * with golden text and so that no drawing code depends on ncurses; the ncurses layer copies the
 * cells to the screen and turns the colour index of each style into a colour pair.
 *
 * Every cell holds one UTF-8 character of display width 1 (wide CJK characters are not supported)
 * and a style. Coordinates are cells, (0,0) is the top-left corner; everything that would land
 * outside the canvas or outside the current clip rectangle is silently dropped, so callers may
 * draw with arbitrary coordinates.
 *
 * The per-canvas flag utf8 says whether the terminal shows Unicode: when it is 0, line drawing
 * uses ASCII and any non-ASCII character written is replaced by '?', so an ASCII terminal never
 * receives bytes it would show as garbage. */
#ifndef INSITU_CANVAS_H
#define INSITU_CANVAS_H

#include <stdint.h>

struct strbuf;

/* Colour index of a style (low byte). The ncurses layer maps each to a colour pair. */
enum canvas_color {
    CANVAS_DEFAULT = 0,
    CANVAS_AXIS,
    CANVAS_TITLE,
    CANVAS_SERIES1,
    CANVAS_SERIES2,
    CANVAS_SERIES3,
    CANVAS_SERIES4,
    CANVAS_SERIES5,
    CANVAS_SERIES6,
    CANVAS_HEAT0,           /* heat ramp, coldest */
    CANVAS_HEAT1,
    CANVAS_HEAT2,
    CANVAS_HEAT3,
    CANVAS_HEAT4,
    CANVAS_HEAT5,
    CANVAS_HEAT6,
    CANVAS_HEAT7,           /* heat ramp, hottest */
    CANVAS_HIGHLIGHT,
    CANVAS_NCOLORS
};
#define CANVAS_NSERIES 6
#define CANVAS_NHEAT 8
#define CANVAS_SERIES(i) ((unsigned)(CANVAS_SERIES1 + (i) % CANVAS_NSERIES))
#define CANVAS_HEAT(i) ((unsigned)(CANVAS_HEAT0 + (i)))

/* A style is a colour index or-ed with attribute bits: CANVAS_AXIS | CANVAS_BOLD. */
#define CANVAS_BOLD 0x100u
#define CANVAS_REVERSE 0x200u
#define CANVAS_DIM 0x400u
#define CANVAS_COLOR(style) ((unsigned)(style) & 0xffu)
#define CANVAS_ATTR(style) ((unsigned)(style) & 0xff00u)

struct canvas_cell {
    char ch[5];             /* one UTF-8 character, NUL-terminated; " " when empty */
    uint16_t style;
};

struct canvas {
    int w, h;
    int utf8;               /* Unicode line drawing and braille allowed */
    int clip_x0, clip_y0, clip_x1, clip_y1;   /* drawing is limited to [x0,x1) x [y0,y1) */
    struct canvas_cell *cells;                /* h rows of w cells */
};

/* A blank canvas (sizes below 0 count as 0), utf8 off, clip = whole canvas. */
struct canvas *canvas_new(int w, int h);
void canvas_free(struct canvas *c);
/* New size; the content is cleared and the clip reset. */
void canvas_resize(struct canvas *c, int w, int h);
void canvas_set_utf8(struct canvas *c, int on);
/* Blank every cell (ignores the clip). */
void canvas_clear(struct canvas *c);

/* Limit drawing to the rectangle (intersected with the canvas); reset: the whole canvas. */
void canvas_set_clip(struct canvas *c, int x, int y, int w, int h);
void canvas_reset_clip(struct canvas *c);

/* The cell at (x,y), or NULL outside the canvas. */
const struct canvas_cell *canvas_cell(const struct canvas *c, int x, int y);

/* Put the first character of the UTF-8 string CH (a malformed or control character shows as
 * '?', an empty string as ' '). */
void canvas_put(struct canvas *c, int x, int y, const char *ch, unsigned style);
/* Write STR from (x,y) rightwards, one character per cell, clipped. Returns the number of cells
 * the text spans (clipped or not), so callers can continue after it. */
int canvas_text(struct canvas *c, int x, int y, const char *str, unsigned style);
/* Display width of STR in cells (characters, malformed bytes counting one each). */
int canvas_strwidth(const char *str);
void canvas_fill(struct canvas *c, int x, int y, int w, int h, const char *ch, unsigned style);
/* Lines: '-' '|' in ASCII, U+2500 U+2502 in UTF-8. */
void canvas_hline(struct canvas *c, int x, int y, int len, unsigned style);
void canvas_vline(struct canvas *c, int x, int y, int len, unsigned style);
/* A frame on the border of the rectangle: "+-+|" in ASCII, light box drawing in UTF-8. */
void canvas_box(struct canvas *c, int x, int y, int w, int h, unsigned style);
/* A braille cell with dot bits DOTS (bit 0..7 = dots 1..8 of U+2800). Without utf8 it degrades
 * to '\'', '.', ':' so that something still shows. */
void canvas_braille(struct canvas *c, int x, int y, unsigned dots, unsigned style);

/* Append the characters (no styles) to OUT: every row ends with '\n' and loses its trailing
 * spaces; all h rows are written, blank ones as empty lines. For golden tests. */
void canvas_to_text(const struct canvas *c, struct strbuf *out);

#endif
