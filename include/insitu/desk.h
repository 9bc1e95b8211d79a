/* desk: the terminal workstation's model: the layout of panes, the focus, the key bindings, the
 * log of messages, overlays and the state of the command line. It draws itself into a canvas
 * and takes keys as insitu key codes; the terminal layer (term.c) owns ncurses and readline and
 * only copies the canvas to the screen. Headless, the desk still exists, so layouts can be
 * loaded, checked and shown without a terminal. */
#ifndef INSITU_DESK_H
#define INSITU_DESK_H

#include <stddef.h>

#include "insitu/msg.h"

struct session;
struct canvas;
struct strbuf;
struct pane;
struct layout_cell;
struct word;
struct run;

struct desk_line {
    double utc;
    enum msg_kind kind;
    char *text;
};

struct desk_bind {
    int key;
    char *cmd;
};

/* What the command line shows; the terminal layer fills it from readline. */
struct desk_cmdline {
    char *prompt;
    char *line;
    int point;              /* cursor, byte offset in line */
    char **matches;         /* completion candidates to show, NULL-terminated, or NULL */
};

enum desk_overlay { DESK_NONE, DESK_HELP, DESK_CONFIRM };

struct desk {
    struct session *s;
    struct layout_cell *root;
    struct pane *focus, *zoomed;
    int next_id;
    int utf8, color;
    int w, h;               /* screen size of the last draw */
    int building;           /* a layout file is being loaded into root */
    char *layout_name;

    struct desk_line *log;  /* ring of log lines */
    size_t log_cap, log_n, log_start;
    unsigned long log_seq;  /* lines ever added */

    struct desk_bind *binds;
    int nbinds;

    enum desk_overlay overlay;
    char *confirm_text, *confirm_cmd;
    int help_scroll;

    struct desk_cmdline cl;
    int cursor_x, cursor_y; /* where the terminal cursor goes (-1: hidden) */

    int term;               /* a terminal is attached */
    int dirty;
    int clear;              /* repaint the terminal from scratch */
    void *term_arg;
    void (*wake)(struct desk *d);                   /* something changed: redraw soon */
    void (*run_command)(struct desk *d, const char *text);
    void (*focus_changed)(struct desk *d);
};

/* The one desk of this process (NULL before desk_new). */
extern struct desk *desk_current;

struct desk *desk_new(struct session *s);
void desk_free(struct desk *d);

/* ---- layout ---- */
/* Load a layout by name ($XDG_CONFIG_HOME/insitu/layouts/NAME, then the installed ones) or
 * path. On error (err says FILE:LINE: ...) the current layout stays. */
int desk_layout_load(struct desk *d, const char *name, char *err, size_t errlen);
int desk_layout_save(struct desk *d, const char *name, char *path_out, size_t pathlen,
                     char *err, size_t errlen);
void desk_layout_list(struct desk *d, struct strbuf *out);
void desk_layout_dump(struct desk *d, struct strbuf *out);
/* Directories searched for layouts, in order; newly allocated strings, NULL-terminated. */
char **desk_layout_dirs(void);

int desk_split(struct desk *d, int vertical, const char *size, int argc, const struct word *argv,
               char *err, size_t errlen);
int desk_pane(struct desk *d, int argc, const struct word *argv, char *err, size_t errlen);
int desk_pane_type(struct desk *d, int argc, const struct word *argv, char *err, size_t errlen);
int desk_focus(struct desk *d, const char *spec, char *err, size_t errlen);
int desk_focus_pane(struct desk *d, struct pane *p);
void desk_zoom(struct desk *d);
int desk_swap(struct desk *d, const char *spec, char *err, size_t errlen);
int desk_close(struct desk *d, char *err, size_t errlen);
void desk_list(struct desk *d, struct strbuf *out);
struct pane *desk_find(struct desk *d, const char *spec);
/* The focused pane if it is of TYPE, else the first pane of TYPE, else NULL. */
struct pane *desk_find_type(struct desk *d, const char *type);

/* ---- keys ---- */
int desk_bind(struct desk *d, const char *key, const char *cmd, char *err, size_t errlen);
int desk_unbind(struct desk *d, const char *key, char *err, size_t errlen);
const char *desk_binding(struct desk *d, int key);
void desk_bindings(struct desk *d, struct strbuf *out);   /* as bind commands */
/* The default bindings, in the command language. */
extern const char desk_default_bindings[];
/* A key that is not for the command line: overlays, bindings, the focused pane. Returns 1 when
 * used, 0 when the command line should have it. */
int desk_key(struct desk *d, int key);
int desk_cmd_focused(const struct desk *d);

/* ---- log, overlays, drawing ---- */
void desk_log(struct desk *d, enum msg_kind kind, const char *text);
const struct desk_line *desk_log_line(const struct desk *d, size_t i);  /* 0 = oldest kept */
void desk_help(struct desk *d);            /* toggle the help overlay */
void desk_confirm(struct desk *d, const char *question, const char *cmd_if_yes);
void desk_attach(struct desk *d, struct run *r);   /* a run started (r) or ended (NULL) */
void desk_dirty(struct desk *d);          /* everything */
void desk_draw(struct desk *d, struct canvas *c);
/* 1 Hz: panes with a clock. */
void desk_tick(struct desk *d);

#endif
