/* pane-plot: scalar channels of the active run against time, with keyboard zoom and pan. */
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
#include "insitu/session.h"
#include "insitu/util.h"

#define PLOT_PANE_MAX 6

struct plot_series_buf {
    char *spec;             /* "group/field" as configured, or NULL in auto mode */
    struct run_table *t;
    int field;
    double *x, *y;          /* x in the pane's time unit */
    size_t n, cap;
};

struct plot_state {
    struct plot *pl;
    int nspec;              /* configured series; 0 = automatic */
    struct plot_series_buf s[PLOT_PANE_MAX];
    struct run *run;
    double tscale;          /* seconds per x unit */
    int xreverse;
    char title[160];
};

static int plot_pane_init(struct pane *p)
{
    struct plot_state *st = util_calloc(1, sizeof *st);
    st->pl = plot_new();
    st->tscale = 0;
    p->state = st;
    return 0;
}

static void plot_pane_drop(struct plot_state *st)
{
    for (int i = 0; i < PLOT_PANE_MAX; i++) {
        free(st->s[i].x);
        free(st->s[i].y);
        st->s[i].x = st->s[i].y = NULL;
        st->s[i].n = st->s[i].cap = 0;
        st->s[i].t = NULL;
    }
    plot_clear_series(st->pl);
    st->tscale = 0;
}

static void plot_pane_free(struct pane *p)
{
    struct plot_state *st = p->state;
    plot_pane_drop(st);
    for (int i = 0; i < PLOT_PANE_MAX; i++)
        free(st->s[i].spec);
    plot_free(st->pl);
    free(st);
}

/* Resolve "group/field" (or "field" in any group) in the run. */
static int plot_pane_resolve(struct run *r, const char *spec, struct run_table **t, int *field)
{
    const char *slash = strchr(spec, '/');
    for (int i = 0; i < r->ntables; i++) {
        struct run_table *tb = r->tables[i];
        if (slash && (strncmp(tb->group, spec, (size_t)(slash - spec)) ||
                      tb->group[slash - spec]))
            continue;
        int f = run_field_index(tb, slash ? slash + 1 : spec);
        if (f >= 0 && !tb->fields[f].dim && tb->fields[f].type != RUN_STR) {
            *t = tb;
            *field = f;
            return 0;
        }
    }
    return -1;
}

/* Bind the series to the run's tables: configured ones by name, else the first channels. */
static void plot_pane_bind(struct pane *p)
{
    struct plot_state *st = p->state;
    plot_pane_drop(st);
    struct run *r = st->run;
    if (!r)
        return;
    int n = 0;
    if (st->nspec) {
        for (int i = 0; i < st->nspec; i++)
            if (plot_pane_resolve(r, st->s[i].spec, &st->s[i].t, &st->s[i].field) == 0)
                n++;
    } else {
        for (int i = 0; i < r->ntables && n < 4; i++) {
            struct run_table *tb = r->tables[i];
            if (tb == r->log)
                continue;
            for (int f = 0; f < tb->nfields && n < 4; f++)
                if (!tb->fields[f].dim && tb->fields[f].type == RUN_F64) {
                    st->s[n].t = tb;
                    st->s[n].field = f;
                    n++;
                }
        }
    }
}

static void plot_pane_attach(struct pane *p, struct run *r)
{
    struct plot_state *st = p->state;
    st->run = r;
    plot_pane_bind(p);
    plot_reset(st->pl, PLOT_XY);
    pane_dirty(p);
}

/* Bring the buffers up to date with the tables (appends only) and hand them to the plot. */
static void plot_pane_update(struct pane *p)
{
    struct plot_state *st = p->state;
    struct run *r = st->run;
    if (!r)
        return;
    if (!st->nspec) {
        /* automatic: tables may have appeared since */
        int have = 0;
        for (int i = 0; i < PLOT_PANE_MAX; i++)
            have += st->s[i].t != NULL;
        if (!have)
            plot_pane_bind(p);
    } else {
        for (int i = 0; i < st->nspec; i++)
            if (!st->s[i].t) {
                plot_pane_bind(p);
                break;
            }
    }
    double tmax = 0;
    for (int i = 0; i < PLOT_PANE_MAX; i++)
        if (st->s[i].t && st->s[i].t->nrec)
            tmax = fmax(tmax, st->s[i].t->time[st->s[i].t->nrec - 1]);
    double scale = tmax > 3 * 3600 ? 3600 : tmax > 180 ? 60 : 1;
    if (scale != st->tscale) {
        for (int i = 0; i < PLOT_PANE_MAX; i++)
            st->s[i].n = 0;   /* rescale everything */
        st->tscale = scale;
    }
    plot_clear_series(st->pl);
    char ylabel[128] = "", yunits[64] = "";
    int nser = 0;
    for (int i = 0; i < PLOT_PANE_MAX; i++) {
        struct plot_series_buf *b = &st->s[i];
        if (!b->t)
            continue;
        size_t nrec = b->t->nrec;
        if (nrec > b->cap) {
            b->cap = nrec + nrec / 2 + 64;
            b->x = util_reallocarray(b->x, b->cap, sizeof *b->x);
            b->y = util_reallocarray(b->y, b->cap, sizeof *b->y);
        }
        for (size_t k = b->n; k < nrec; k++) {
            b->x[k] = b->t->time[k] / scale;
            b->y[k] = run_get_f64(b->t, b->field, k);
        }
        b->n = nrec;
        const struct run_field *f = &b->t->fields[b->field];
        char label[160];
        snprintf(label, sizeof label, "%s [%s]", f->name, f->units);
        plot_add_series(st->pl, label, 0, b->x, b->y, b->n);
        if (!nser++) {
            util_strlcpy(ylabel, f->long_name, sizeof ylabel);
            util_strlcpy(yunits, f->units, sizeof yunits);
        }
    }
    plot_set_xlabel(st->pl, "time", scale == 3600 ? "h" : scale == 60 ? "min" : "s");
    plot_set_ylabel(st->pl, nser == 1 ? ylabel : "", nser == 1 ? yunits : "");
    plot_set_legend(st->pl, nser > 1);
}

static void plot_pane_draw(struct pane *p, struct canvas *c, int x, int y, int w, int h)
{
    struct plot_state *st = p->state;
    if (!st->run) {
        canvas_text(c, x + 2, y + 1, "no run: `run start` begins one; `plot GROUP/FIELD`", CANVAS_AXIS);
        canvas_text(c, x + 2, y + 2, "chooses what this pane shows", CANVAS_AXIS);
        return;
    }
    plot_pane_update(p);
    if (!plot_series_count(st->pl)) {
        canvas_text(c, x + 2, y + 1, st->nspec ? "waiting for data of the chosen channels"
                                               : "no channels recorded yet", CANVAS_AXIS);
        return;
    }
    plot_draw(st->pl, c, x, y, w, h);
}

static int plot_pane_key(struct pane *p, int key)
{
    struct plot_state *st = p->state;
    switch (key) {
    case KEYS_LEFT: case 'h': plot_pan(st->pl, PLOT_X, -0.2); break;
    case KEYS_RIGHT: case 'l': plot_pan(st->pl, PLOT_X, 0.2); break;
    case KEYS_UP: case 'k': plot_pan(st->pl, PLOT_Y, 0.2); break;
    case KEYS_DOWN: case 'j': plot_pan(st->pl, PLOT_Y, -0.2); break;
    case '+': case '=': plot_zoom(st->pl, PLOT_X, 2.0); break;
    case '-': plot_zoom(st->pl, PLOT_X, 0.5); break;
    case '>': plot_zoom(st->pl, PLOT_Y, 2.0); break;
    case '<': plot_zoom(st->pl, PLOT_Y, 0.5); break;
    case '0': plot_reset(st->pl, PLOT_XY); break;
    case 'r':
        st->xreverse = !st->xreverse;
        plot_set_xreverse(st->pl, st->xreverse);
        break;
    default: return 0;
    }
    pane_dirty(p);
    return 1;
}

static int plot_pane_configure(struct pane *p, int argc, const struct word *argv, char *err,
                               size_t errlen)
{
    struct plot_state *st = p->state;
    if (argc > PLOT_PANE_MAX) {
        snprintf(err, errlen, "at most %d channels in one plot", PLOT_PANE_MAX);
        return -1;
    }
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i].text;
        const char *slash = strchr(s, '/');
        if (!*s || (slash && (slash == s || !slash[1] || strchr(slash + 1, '/')))) {
            snprintf(err, errlen, "\"%s\": a channel is GROUP/FIELD or FIELD", s);
            return -1;
        }
    }
    plot_pane_drop(st);
    for (int i = 0; i < PLOT_PANE_MAX; i++) {
        free(st->s[i].spec);
        st->s[i].spec = i < argc ? util_strdup(argv[i].text) : NULL;
    }
    st->nspec = argc;
    plot_pane_bind(p);
    plot_reset(st->pl, PLOT_XY);
    pane_dirty(p);
    return 0;
}

static void plot_pane_describe(struct pane *p, struct strbuf *out)
{
    struct plot_state *st = p->state;
    for (int i = 0; i < st->nspec; i++) {
        char *q = parse_quote(st->s[i].spec);
        strbuf_printf(out, " %s", q);
        free(q);
    }
}

const struct pane_type pane_plot_type = {
    .name = "plot",
    .help = "channels of the run against time (`plot GROUP/FIELD...` chooses them)",
    .keyhelp = "  Left/Right h/l  pan time      +/-  zoom time      0  autoscale\n"
               "  Up/Down k/j     pan values    >/<  zoom values    r  reverse the x axis",
    .titled = 1,
    .init = plot_pane_init,
    .free = plot_pane_free,
    .draw = plot_pane_draw,
    .key = plot_pane_key,
    .attach = plot_pane_attach,
    .configure = plot_pane_configure,
    .describe = plot_pane_describe,
};
