/* pane: what fills a layout cell. A pane type is a small vtable (htop's panels are the model):
 * draw into a canvas, take keys, follow the run, take its own settings. Adding a type touches
 * its own file and one row of the table in src/ui/pane.c. No ncurses here. */
#ifndef INSITU_PANE_H
#define INSITU_PANE_H

#include <stddef.h>

struct canvas;
struct desk;
struct run;
struct word;
struct strbuf;
struct layout_cell;

struct pane;

struct pane_type {
    const char *name;
    const char *help;       /* one line for `help pane`, `pane types` */
    const char *keyhelp;    /* "Left/Right  pan\n..." for the help overlay, or NULL */
    int titled;             /* has a title row (1-row panes like cmd and status do not) */
    int fixed_rows;         /* natural height in rows, 0 = any */
    int (*init)(struct pane *p);
    void (*free)(struct pane *p);
    /* Draw inside (x,y,w,h) of C, the area below the title row. */
    void (*draw)(struct pane *p, struct canvas *c, int x, int y, int w, int h);
    /* A key while this pane has the focus; return 1 when used. */
    int (*key)(struct pane *p, int key);
    /* A run started (R) or ended (NULL). */
    void (*attach)(struct pane *p, struct run *r);
    /* Words after the pane type in `pane TYPE ARGS...` and in the type's own command; return
     * 0 or -1 with err. */
    int (*configure)(struct pane *p, int argc, const struct word *argv, char *err, size_t errlen);
    /* The words that recreate this pane's configuration (for layout save), after the type. */
    void (*describe)(struct pane *p, struct strbuf *out);
    /* Periodic refresh (1 Hz while visible), for clocks. NULL: none. */
    void (*tick)(struct pane *p);
};

struct pane {
    int id;                 /* 1, 2, ... in layout order */
    char *name;             /* user's name, or NULL */
    const struct pane_type *type;
    void *state;
    struct layout_cell *cell;
    struct desk *desk;
    int dirty;
    int cursor_x, cursor_y; /* where the terminal cursor goes when focused, -1 for none */
};

const struct pane_type *pane_type_find(const char *name);
int pane_type_count(void);
const struct pane_type *pane_type_at(int i);

/* Mark the pane for redraw (cheap; the desk coalesces redraws). */
void pane_dirty(struct pane *p);
/* A title for the pane's title row: its name or type, plus what it shows. */
const char *pane_title(const struct pane *p);

/* ---- shared by the NMR panes (spectrum, stack) ---- */
/* Parse a ppm range "350ppm,100ppm" (either order, the unit optional) into RANGE as
 * {high, low}; "full" gives {NAN, NAN}. Returns 0, or -1 with err. */
int pane_ppm_range(const char *text, double range[2], char *err, size_t errlen);
/* A reading in 3 significant digits, short: 123456 -> "1.23e5", 7230 -> "7230", 0.5 -> "0.5". */
void pane_format_num(double v, char *buf, size_t len);
/* Append " zoom=HIGHppm,LOWppm" for a range that is not full (layout save). */
void pane_ppm_describe(const double range[2], struct strbuf *out);

#endif
