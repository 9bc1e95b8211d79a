/* desk: layout, panes, focus, bindings, log and overlays of the terminal workstation, with no
 * ncurses in sight (term.c copies what desk_draw paints). */
#include "insitu/desk.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "insitu/canvas.h"
#include "insitu/clock.h"
#include "insitu/cmd.h"
#include "insitu/keys.h"
#include "insitu/layout.h"
#include "insitu/pane.h"
#include "insitu/parse.h"
#include "insitu/paths.h"
#include "insitu/run.h"
#include "insitu/session.h"
#include "insitu/util.h"

#define DESK_LOG_LINES 5000
#define DESK_MIN_W 80
#define DESK_MIN_H 24

struct desk *desk_current;

/* Keys that do not collide with tmux's prefix (C-b) or readline's editing keys: function keys,
 * Alt-keys, and plain keys only while a pane other than the command line has the focus. */
const char desk_default_bindings[] =
    "bind F1 keys\n"
    "bind ? keys\n"
    "bind F10 quit\n"
    "bind q quit\n"
    "bind F6 pane focus next\n"
    "bind M-n pane focus next\n"
    "bind M-p pane focus prev\n"
    "bind BTab pane focus prev\n"
    "bind M-z pane zoom\n"
    "bind z pane zoom\n"
    "bind M-o pane swap\n"
    "bind C-l redraw\n"
    "bind M-1 pane focus 1\n"
    "bind M-2 pane focus 2\n"
    "bind M-3 pane focus 3\n"
    "bind M-4 pane focus 4\n"
    "bind M-5 pane focus 5\n"
    "bind M-6 pane focus 6\n"
    "bind M-7 pane focus 7\n"
    "bind M-8 pane focus 8\n"
    "bind M-9 pane focus 9\n";

/* A built-in layout so that insitu always has a screen, even with no layout files installed. */
static const char desk_builtin_layout[] =
    "split -v -2\n"
    "split -h 62%\n"
    "pane plot\n"
    "pane log\n"
    "split -v 1\n"
    "pane status\n"
    "pane cmd\n";

/* ---- panes ---- */

static struct pane *desk_pane_new(struct desk *d, const struct pane_type *t, const char *name)
{
    struct pane *p = util_calloc(1, sizeof *p);
    p->type = t;
    p->desk = d;
    p->name = name ? util_strdup(name) : NULL;
    p->cursor_x = p->cursor_y = -1;
    p->dirty = 1;
    if (t->init && t->init(p) < 0) {
        free(p->name);
        free(p);
        return NULL;
    }
    if (t->attach && d->s && d->s->run)
        t->attach(p, d->s->run);
    return p;
}

static void desk_pane_free(struct pane *p)
{
    if (!p)
        return;
    if (p->type->free)
        p->type->free(p);
    free(p->name);
    free(p);
}

static void desk_free_tree(struct layout_cell *c)
{
    if (!c)
        return;
    desk_free_tree(c->a);
    desk_free_tree(c->b);
    desk_pane_free(c->pane);
    c->pane = NULL;
}

/* Number the panes 1.. in layout order. */
static void desk_renumber(struct desk *d)
{
    int n = 1;
    for (struct layout_cell *l = layout_first_leaf(d->root); l; l = layout_next_leaf(l))
        if (l->pane) {
            l->pane->id = n++;
            l->pane->cell = l;
        }
}

void desk_dirty(struct desk *d)
{
    d->dirty = 1;
    for (struct layout_cell *l = layout_first_leaf(d->root); l; l = layout_next_leaf(l))
        if (l->pane)
            l->pane->dirty = 1;
    if (d->wake)
        d->wake(d);
}

void pane_dirty(struct pane *p)
{
    p->dirty = 1;
    if (p->desk) {
        p->desk->dirty = 1;
        if (p->desk->wake)
            p->desk->wake(p->desk);
    }
}

static void desk_listen(void *arg, struct run *r)
{
    desk_attach(arg, r);
}

struct desk *desk_new(struct session *s)
{
    struct desk *d = util_calloc(1, sizeof *d);
    d->s = s;
    d->utf8 = 1;
    d->color = 1;
    d->log_cap = DESK_LOG_LINES;
    d->log = util_calloc(d->log_cap, sizeof *d->log);
    d->cursor_x = d->cursor_y = -1;
    desk_current = d;
    if (s)
        session_listen(s, desk_listen, d);
    char err[256];
    struct cmdlist l;
    struct parse_error pe;
    if (parse_text(desk_default_bindings, "(default bindings)", 1, &l, &pe) == PARSE_OK) {
        for (int i = 0; i < l.n; i++) {
            char *cmd = cmd_join(l.v[i].argc, l.v[i].argv, 2);
            desk_bind(d, l.v[i].argv[1].text, cmd, err, sizeof err);
            free(cmd);
        }
    }
    cmdlist_free(&l);
    if (desk_layout_load(d, "default", err, sizeof err) < 0 &&
        desk_layout_load(d, "(builtin)", err, sizeof err) < 0)
        fprintf(stderr, "insitu: internal: %s\n", err);
    return d;
}

void desk_free(struct desk *d)
{
    if (!d)
        return;
    desk_free_tree(d->root);
    layout_free(d->root);
    for (size_t i = 0; i < d->log_n; i++)
        free(d->log[(d->log_start + i) % d->log_cap].text);
    free(d->log);
    for (int i = 0; i < d->nbinds; i++)
        free(d->binds[i].cmd);
    free(d->binds);
    free(d->confirm_text);
    free(d->confirm_cmd);
    free(d->layout_name);
    free(d->cl.line);
    free(d->cl.prompt);
    if (d->cl.matches) {
        for (char **m = d->cl.matches; *m; m++)
            free(*m);
        free(d->cl.matches);
    }
    if (desk_current == d)
        desk_current = NULL;
    free(d);
}

/* ---- finding panes ---- */

struct pane *desk_find(struct desk *d, const char *spec)
{
    char *end;
    long n = strtol(spec, &end, 10);
    for (struct layout_cell *l = layout_first_leaf(d->root); l; l = layout_next_leaf(l)) {
        struct pane *p = l->pane;
        if (!p)
            continue;
        if (!*end && end != spec ? p->id == n
                                 : (p->name && !strcmp(p->name, spec)))
            return p;
    }
    if (*end || end == spec)
        for (struct layout_cell *l = layout_first_leaf(d->root); l; l = layout_next_leaf(l))
            if (l->pane && !strcmp(l->pane->type->name, spec))
                return l->pane;
    return NULL;
}

struct pane *desk_find_type(struct desk *d, const char *type)
{
    if (d->focus && !strcmp(d->focus->type->name, type))
        return d->focus;
    for (struct layout_cell *l = layout_first_leaf(d->root); l; l = layout_next_leaf(l))
        if (l->pane && !strcmp(l->pane->type->name, type))
            return l->pane;
    return NULL;
}

int desk_cmd_focused(const struct desk *d)
{
    return d->focus && !strcmp(d->focus->type->name, "cmd");
}

int desk_focus_pane(struct desk *d, struct pane *p)
{
    if (!p)
        return -1;
    if (d->zoomed && d->zoomed != p)
        d->zoomed = NULL;   /* focusing another pane leaves zoom, as in tmux */
    d->focus = p;
    desk_dirty(d);
    if (d->focus_changed)
        d->focus_changed(d);
    return 0;
}

static struct pane *desk_step(struct desk *d, int dir)
{
    struct layout_cell *first = layout_first_leaf(d->root), *l;
    struct pane *list[256];
    int n = 0, at = 0;
    for (l = first; l && n < 256; l = layout_next_leaf(l))
        if (l->pane) {
            if (l->pane == d->focus)
                at = n;
            list[n++] = l->pane;
        }
    if (!n)
        return NULL;
    return list[((at + dir) % n + n) % n];
}

int desk_focus(struct desk *d, const char *spec, char *err, size_t errlen)
{
    struct pane *p = !strcmp(spec, "next") ? desk_step(d, 1)
                   : !strcmp(spec, "prev") ? desk_step(d, -1) : desk_find(d, spec);
    if (!p) {
        snprintf(err, errlen, "no pane \"%s\" (`pane list` shows them)", spec);
        return -1;
    }
    return desk_focus_pane(d, p);
}

void desk_zoom(struct desk *d)
{
    d->zoomed = d->zoomed ? NULL : d->focus;
    desk_dirty(d);
}

int desk_swap(struct desk *d, const char *spec, char *err, size_t errlen)
{
    struct pane *a = d->focus, *b = spec ? desk_find(d, spec) : desk_step(d, 1);
    if (!a || !b) {
        snprintf(err, errlen, "no pane \"%s\"", spec ? spec : "next");
        return -1;
    }
    struct layout_cell *ca = a->cell, *cb = b->cell;
    ca->pane = b;
    cb->pane = a;
    desk_renumber(d);
    desk_dirty(d);
    return 0;
}

int desk_close(struct desk *d, char *err, size_t errlen)
{
    struct pane *p = d->focus;
    if (!p || !p->cell->parent) {
        snprintf(err, errlen, "the last pane cannot be closed");
        return -1;
    }
    if (!strcmp(p->type->name, "cmd")) {
        snprintf(err, errlen, "the command line cannot be closed");
        return -1;
    }
    struct pane *next = desk_step(d, 1);
    d->root = layout_remove(d->root, p->cell);
    desk_pane_free(p);
    d->zoomed = NULL;
    desk_renumber(d);
    d->focus = next != p ? next : NULL;
    desk_dirty(d);
    return 0;
}

void desk_list(struct desk *d, struct strbuf *out)
{
    for (struct layout_cell *l = layout_first_leaf(d->root); l; l = layout_next_leaf(l)) {
        struct pane *p = l->pane;
        if (!p)
            continue;
        strbuf_printf(out, "%d: %s%s%s %dx%d%s%s\n", p->id, p->type->name, p->name ? " " : "",
                      p->name ? p->name : "", l->w, l->h, p == d->focus ? " (focus)" : "",
                      p == d->zoomed ? " (zoomed)" : "");
    }
}

/* ---- building and changing the layout ---- */

/* `split`/`pane` words after the size or the type: TYPE [NAME=..] [ARGS]. */
static struct pane *desk_make(struct desk *d, int argc, const struct word *argv, char *err,
                              size_t errlen)
{
    const char *tname = argc > 0 ? argv[0].text : "log";
    const struct pane_type *t = pane_type_find(tname);
    if (!t) {
        struct strbuf b = { 0 };
        for (int i = 0; i < pane_type_count(); i++)
            strbuf_printf(&b, "%s%s", i ? ", " : "", pane_type_at(i)->name);
        snprintf(err, errlen, "\"%s\": no such pane type (%s)", tname, b.s);
        strbuf_free(&b);
        return NULL;
    }
    const char *name = NULL;
    int first = 1;
    if (argc > 1 && util_startswith(argv[1].text, "name=")) {
        name = argv[1].text + 5;
        first = 2;
    }
    struct pane *p = desk_pane_new(d, t, name);
    if (!p) {
        snprintf(err, errlen, "cannot create a %s pane", tname);
        return NULL;
    }
    if (argc > first) {
        if (!t->configure) {
            snprintf(err, errlen, "a %s pane takes no arguments", tname);
            desk_pane_free(p);
            return NULL;
        }
        if (t->configure(p, argc - first, argv + first, err, errlen) < 0) {
            desk_pane_free(p);
            return NULL;
        }
    }
    return p;
}

int desk_split(struct desk *d, int vertical, const char *size, int argc, const struct word *argv,
               char *err, size_t errlen)
{
    struct layout_size sz;
    if (layout_parse_size(size, &sz) < 0) {
        snprintf(err, errlen, "\"%s\": a size is N%% or N cells of the first part (1-99%%), or "
                 "-N / -N%% for the second part", size);
        return -1;
    }
    enum layout_kind k = vertical ? LAYOUT_V : LAYOUT_H;
    if (d->building) {
        struct layout_cell *l = layout_next_empty(d->root);
        if (!l) {
            snprintf(err, errlen, "every cell of the layout already has a pane");
            return -1;
        }
        if (argc > 0) {
            snprintf(err, errlen, "in a layout, split takes only -h|-v SIZE; `pane` fills the parts");
            return -1;
        }
        layout_split(l, k, &sz);
        return 0;
    }
    if (!d->focus) {
        snprintf(err, errlen, "no pane to split");
        return -1;
    }
    struct pane *p = desk_make(d, argc, argv, err, errlen);
    if (!p)
        return -1;
    struct layout_cell *a = layout_split(d->focus->cell, k, &sz);
    a->parent->b->pane = p;
    d->zoomed = NULL;
    desk_renumber(d);
    desk_focus_pane(d, p);
    return 0;
}

static int desk_set_pane(struct desk *d, struct layout_cell *l, int argc, const struct word *argv,
                         char *err, size_t errlen)
{
    struct pane *p = desk_make(d, argc, argv, err, errlen);
    if (!p)
        return -1;
    struct pane *old = l->pane;
    l->pane = p;
    p->cell = l;
    if (old) {
        if (d->focus == old)
            d->focus = p;
        if (d->zoomed == old)
            d->zoomed = p;
        desk_pane_free(old);
    }
    desk_renumber(d);
    desk_dirty(d);
    return 0;
}

int desk_pane(struct desk *d, int argc, const struct word *argv, char *err, size_t errlen)
{
    if (d->building) {
        struct layout_cell *l = layout_next_empty(d->root);
        if (!l) {
            snprintf(err, errlen, "every cell of the layout already has a pane (split first)");
            return -1;
        }
        return desk_set_pane(d, l, argc, argv, err, errlen);
    }
    return desk_pane_type(d, argc, argv, err, errlen);
}

int desk_pane_type(struct desk *d, int argc, const struct word *argv, char *err, size_t errlen)
{
    if (!d->focus) {
        snprintf(err, errlen, "no pane has the focus");
        return -1;
    }
    if (!strcmp(d->focus->type->name, "cmd") && argc > 0 && strcmp(argv[0].text, "cmd")) {
        snprintf(err, errlen, "the command line stays a command line (focus another pane)");
        return -1;
    }
    return desk_set_pane(d, d->focus->cell, argc, argv, err, errlen);
}

/* ---- layout files ---- */

char **desk_layout_dirs(void)
{
    char **v = util_calloc(6, sizeof *v);
    int n = 0;
    char *cfg = paths_config_dir();
    v[n++] = util_printf("%s/layouts", cfg);
    free(cfg);
    /* Running from the build tree: ./insitu -> build/insitu, layouts/ beside build/. */
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            /* the build tree (build/insitu beside layouts/), or an installation under any
             * PREFIX (PREFIX/bin/insitu and PREFIX/share/insitu/layouts) */
            static const char *const rel[] = { "../layouts", "../share/insitu/layouts" };
            for (size_t i = 0; i < ARRAY_LEN(rel); i++) {
                char *cand = util_printf("%s/%s", exe, rel[i]);
                char *real = realpath(cand, NULL);
                free(cand);
                if (real && access(real, R_OK) == 0 && n < 4)
                    v[n++] = real;
                else
                    free(real);
            }
        }
    }
    v[n++] = util_strdup(INSITU_DATADIR "/layouts");
    return v;
}

static void desk_dirs_free(char **v)
{
    for (int i = 0; v[i]; i++)
        free(v[i]);
    free(v);
}

static char *desk_layout_find(const char *name)
{
    if (strchr(name, '/'))
        return paths_expand(name);
    char **dirs = desk_layout_dirs();
    char *found = NULL;
    for (int i = 0; dirs[i] && !found; i++) {
        char *p = util_printf("%s/%s", dirs[i], name);
        if (access(p, R_OK) == 0)
            found = p;
        else
            free(p);
    }
    desk_dirs_free(dirs);
    return found;
}

int desk_layout_load(struct desk *d, const char *name, char *err, size_t errlen)
{
    char *path = NULL, *text;
    if (!strcmp(name, "(builtin)")) {
        text = util_strdup(desk_builtin_layout);
        path = util_strdup("(builtin)");
    } else {
        path = desk_layout_find(name);
        if (!path) {
            snprintf(err, errlen, "no layout \"%s\" (`layout list` shows them)", name);
            return -1;
        }
        text = paths_read_file(path, NULL);
        if (!text) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            free(path);
            return -1;
        }
    }
    struct cmdlist l;
    struct parse_error pe;
    if (parse_text(text, path, 1, &l, &pe) != PARSE_OK) {
        snprintf(err, errlen, "%s:%d: %s", path, pe.line, pe.msg);
        free(text);
        free(path);
        return -1;
    }
    free(text);
    /* Build into a fresh tree; the current layout stays until the new one is complete. */
    struct layout_cell *old_root = d->root;
    struct pane *old_focus = d->focus, *old_zoom = d->zoomed;
    d->root = layout_leaf();
    d->building = 1;
    int rc = 0;
    for (int i = 0; i < l.n && rc == 0; i++) {
        const struct cmdline *c = &l.v[i];
        const char *cmd = c->argv[0].text;
        char e2[400] = "";
        if (!strcmp(cmd, "split") && c->argc >= 3 &&
            (!strcmp(c->argv[1].text, "-h") || !strcmp(c->argv[1].text, "-v"))) {
            rc = desk_split(d, c->argv[1].text[1] == 'v', c->argv[2].text, c->argc - 3,
                            c->argv + 3, e2, sizeof e2);
        } else if (!strcmp(cmd, "split")) {
            snprintf(e2, sizeof e2, "usage: split -h|-v SIZE");
            rc = -1;
        } else if (!strcmp(cmd, "pane") && c->argc >= 2) {
            rc = desk_pane(d, c->argc - 1, c->argv + 1, e2, sizeof e2);
        } else {
            snprintf(e2, sizeof e2, "a layout holds only `split -h|-v SIZE` and `pane TYPE` commands");
            rc = -1;
        }
        if (rc < 0)
            snprintf(err, errlen, "%s:%d: %s: %s", path, c->line, cmd, e2);
    }
    if (rc == 0) {
        int empty = 0, cmdpanes = 0;
        for (struct layout_cell *lf = layout_first_leaf(d->root); lf; lf = layout_next_leaf(lf)) {
            if (!lf->pane)
                empty++;
            else if (!strcmp(lf->pane->type->name, "cmd"))
                cmdpanes++;
        }
        if (empty) {
            snprintf(err, errlen, "%s: %d part%s of the layout %s no pane", path, empty,
                     empty > 1 ? "s" : "", empty > 1 ? "have" : "has");
            rc = -1;
        } else if (cmdpanes != 1) {
            snprintf(err, errlen, "%s: a layout needs exactly one `pane cmd` (it has %d)", path,
                     cmdpanes);
            rc = -1;
        }
    }
    cmdlist_free(&l);
    d->building = 0;
    if (rc < 0) {
        desk_free_tree(d->root);
        layout_free(d->root);
        d->root = old_root;
        d->focus = old_focus;
        d->zoomed = old_zoom;
        free(path);
        return -1;
    }
    desk_free_tree(old_root);
    layout_free(old_root);
    d->zoomed = NULL;
    d->focus = NULL;
    desk_renumber(d);
    desk_focus_pane(d, desk_find_type(d, "cmd"));
    free(d->layout_name);
    d->layout_name = util_strdup(strchr(name, '/') ? path : name);
    free(path);
    desk_dirty(d);
    return 0;
}

static void desk_pane_words(struct pane *p, struct strbuf *out)
{
    strbuf_addstr(out, p->type->name);
    if (p->name) {
        char *q = parse_quote(p->name);
        strbuf_printf(out, " name=%s", q);
        free(q);
    }
    if (p->type->describe)
        p->type->describe(p, out);
}

void desk_layout_dump(struct desk *d, struct strbuf *out)
{
    layout_dump(d->root, out, desk_pane_words);
}

int desk_layout_save(struct desk *d, const char *name, char *path_out, size_t pathlen,
                     char *err, size_t errlen)
{
    if (!util_valid_name(name)) {
        snprintf(err, errlen, "\"%s\": a layout name is letters, digits, '_', '.', '-'", name);
        return -1;
    }
    char *cfg = paths_config_dir();
    char *dir = util_printf("%s/layouts", cfg);
    free(cfg);
    if (paths_mkdir_p(dir, 0755) < 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        free(dir);
        return -1;
    }
    char *path = util_printf("%s/%s", dir, name);
    char *tmp = util_printf("%s.tmp", path);
    free(dir);
    struct strbuf b = { 0 };
    strbuf_printf(&b, "# insitu layout \"%s\", saved by `layout save`\n", name);
    desk_layout_dump(d, &b);
    FILE *f = fopen(tmp, "w");
    int rc = 0;
    if (!f || fwrite(b.s, 1, b.len, f) != b.len || fclose(f) != 0 || rename(tmp, path) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        unlink(tmp);
        rc = -1;
    } else if (path_out) {
        util_strlcpy(path_out, path, pathlen);
    }
    strbuf_free(&b);
    free(tmp);
    free(path);
    return rc;
}

static int desk_cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void desk_layout_list(struct desk *d, struct strbuf *out)
{
    char **dirs = desk_layout_dirs();
    char **names = NULL;
    int n = 0;
    for (int i = 0; dirs[i]; i++) {
        DIR *dp = opendir(dirs[i]);
        if (!dp)
            continue;
        struct dirent *e;
        while ((e = readdir(dp))) {
            if (e->d_name[0] == '.' || strchr(e->d_name, '~') || strstr(e->d_name, ".tmp"))
                continue;
            int dup = 0;
            for (int k = 0; k < n; k++)
                dup |= !strcmp(names[k], e->d_name);
            if (dup)
                continue;   /* the user's copy overrides the installed one */
            names = util_reallocarray(names, (size_t)n + 1, sizeof *names);
            names[n++] = util_printf("%s\t%s/%s", e->d_name, dirs[i], e->d_name);
        }
        closedir(dp);
    }
    qsort(names, (size_t)n, sizeof *names, desk_cmpstr);
    for (int i = 0; i < n; i++) {
        char *tab = strchr(names[i], '\t');
        *tab = '\0';
        strbuf_printf(out, "%-12s %s%s\n", names[i], tab + 1,
                      d->layout_name && !strcmp(d->layout_name, names[i]) ? " (current)" : "");
        free(names[i]);
    }
    free(names);
    desk_dirs_free(dirs);
}

/* ---- bindings ---- */

int desk_bind(struct desk *d, const char *key, const char *cmd, char *err, size_t errlen)
{
    int k = keys_parse(key);
    if (k < 0) {
        snprintf(err, errlen, "\"%s\": unknown key (e.g. F1, M-z, C-l, PageUp, q)", key);
        return -1;
    }
    if (k == KEYS_ENTER || k == KEYS_TAB || k == KEYS_BACKSPACE) {
        snprintf(err, errlen, "%s belongs to the command line", key);
        return -1;
    }
    struct cmdlist l;
    struct parse_error pe;
    if (parse_text(cmd, NULL, 1, &l, &pe) != PARSE_OK) {
        snprintf(err, errlen, "%s", pe.msg);
        return -1;
    }
    cmdlist_free(&l);
    for (int i = 0; i < d->nbinds; i++)
        if (d->binds[i].key == k) {
            free(d->binds[i].cmd);
            d->binds[i].cmd = util_strdup(cmd);
            return 0;
        }
    d->binds = util_reallocarray(d->binds, (size_t)d->nbinds + 1, sizeof *d->binds);
    d->binds[d->nbinds++] = (struct desk_bind){ k, util_strdup(cmd) };
    return 0;
}

int desk_unbind(struct desk *d, const char *key, char *err, size_t errlen)
{
    int k = keys_parse(key);
    for (int i = 0; i < d->nbinds; i++)
        if (d->binds[i].key == k) {
            free(d->binds[i].cmd);
            memmove(&d->binds[i], &d->binds[i + 1], (size_t)(d->nbinds - i - 1) * sizeof *d->binds);
            d->nbinds--;
            return 0;
        }
    snprintf(err, errlen, "\"%s\" is not bound", key);
    return -1;
}

const char *desk_binding(struct desk *d, int key)
{
    for (int i = 0; i < d->nbinds; i++)
        if (d->binds[i].key == key)
            return d->binds[i].cmd;
    return NULL;
}

void desk_bindings(struct desk *d, struct strbuf *out)
{
    for (int i = 0; i < d->nbinds; i++) {
        char kn[32];
        keys_name(d->binds[i].key, kn, sizeof kn);
        char *q = parse_quote(kn);
        strbuf_printf(out, "bind %-8s %s\n", q, d->binds[i].cmd);
        free(q);
    }
}

static void desk_run(struct desk *d, const char *cmd)
{
    if (d->run_command)
        d->run_command(d, cmd);
}

int desk_key(struct desk *d, int key)
{
    if (d->overlay == DESK_CONFIRM) {
        char *cmd = d->confirm_cmd;
        d->confirm_cmd = NULL;
        d->overlay = DESK_NONE;
        desk_dirty(d);
        if (key == 'y' || key == 'Y')
            desk_run(d, cmd);
        free(cmd);
        return 1;
    }
    if (d->overlay == DESK_HELP) {
        if (key == KEYS_DOWN || key == KEYS_NPAGE || key == 'j' || key == ' ')
            d->help_scroll += key == KEYS_DOWN || key == 'j' ? 1 : 10;
        else if (key == KEYS_UP || key == KEYS_PPAGE || key == 'k')
            d->help_scroll -= key == KEYS_UP || key == 'k' ? 1 : 10;
        else
            d->overlay = DESK_NONE;
        if (d->help_scroll < 0)
            d->help_scroll = 0;
        desk_dirty(d);
        return 1;
    }
    int cmdline = desk_cmd_focused(d);
    const char *b = desk_binding(d, key);
    /* Plain keys are typing while the command line has the focus. */
    if (b && !(cmdline && (keys_printable(key) || key == KEYS_ESC))) {
        desk_run(d, b);
        return 1;
    }
    if (cmdline)
        return 0;
    if (d->focus && d->focus->type->key && d->focus->type->key(d->focus, key))
        return 1;
    if (key == ':' || key == KEYS_ENTER || key == KEYS_ESC) {
        desk_focus_pane(d, desk_find_type(d, "cmd"));
        return 1;
    }
    return 1;   /* other keys in a pane are ignored, not typed into a hidden command line */
}

/* ---- log ---- */

void desk_log(struct desk *d, enum msg_kind kind, const char *text)
{
    double now = clock_utc();
    const char *s = text;
    do {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        size_t slot;
        if (d->log_n < d->log_cap) {
            slot = (d->log_start + d->log_n++) % d->log_cap;
        } else {
            slot = d->log_start;
            free(d->log[slot].text);
            d->log_start = (d->log_start + 1) % d->log_cap;
        }
        d->log[slot] = (struct desk_line){ now, kind, util_strndup(s, n) };
        d->log_seq++;
        s = nl ? nl + 1 : NULL;
    } while (s && *s);
    for (struct layout_cell *l = layout_first_leaf(d->root); l; l = layout_next_leaf(l))
        if (l->pane && !strcmp(l->pane->type->name, "log"))
            pane_dirty(l->pane);
    /* errors also show in the status line */
    if (kind == MSG_ERROR || kind == MSG_WARN)
        desk_dirty(d);
}

const struct desk_line *desk_log_line(const struct desk *d, size_t i)
{
    if (i >= d->log_n)
        return NULL;
    return &d->log[(d->log_start + i) % d->log_cap];
}

/* ---- overlays ---- */

void desk_help(struct desk *d)
{
    d->overlay = d->overlay == DESK_HELP ? DESK_NONE : DESK_HELP;
    d->help_scroll = 0;
    desk_dirty(d);
}

void desk_confirm(struct desk *d, const char *question, const char *cmd_if_yes)
{
    free(d->confirm_text);
    free(d->confirm_cmd);
    d->confirm_text = util_strdup(question);
    d->confirm_cmd = util_strdup(cmd_if_yes);
    d->overlay = DESK_CONFIRM;
    desk_dirty(d);
}

/* New records make the panes that show data redraw (the terminal layer limits the rate). */
static int desk_on_record(void *arg, struct run_table *t, size_t i, double time,
                          const union run_value *v)
{
    struct desk *d = arg;
    for (struct layout_cell *l = layout_first_leaf(d->root); l; l = layout_next_leaf(l))
        if (l->pane && l->pane->type->attach && t != t->run->log)
            pane_dirty(l->pane);
    return 0;
}

static void desk_on_table(void *arg, struct run_table *t)
{
    desk_dirty(arg);
}

void desk_attach(struct desk *d, struct run *r)
{
    static struct run *observed;
    if (observed && !r)
        run_unobserve(observed, d);
    observed = r;
    if (r) {
        struct run_observer o = { .arg = d, .record = desk_on_record, .table = desk_on_table };
        run_observe(r, &o);
    }
    for (struct layout_cell *l = layout_first_leaf(d->root); l; l = layout_next_leaf(l))
        if (l->pane && l->pane->type->attach)
            l->pane->type->attach(l->pane, r);
    desk_dirty(d);
}

void desk_tick(struct desk *d)
{
    for (struct layout_cell *l = layout_first_leaf(d->root); l; l = layout_next_leaf(l))
        if (l->pane && l->pane->type->tick)
            l->pane->type->tick(l->pane);
}

/* ---- drawing ---- */

static void desk_draw_help(struct desk *d, struct canvas *c)
{
    struct strbuf b = { 0 };
    strbuf_addstr(&b, "Keys  (any other key closes; Up/Down scroll)\n\n");
    for (int i = 0; i < d->nbinds; i++) {
        char kn[32], want[32];
        int k = d->binds[i].key;
        /* M-1 .. M-9 focusing panes 1 .. 9 read better as one line */
        if (k == (KEYM_META | '1') && !strcmp(d->binds[i].cmd, "pane focus 1")) {
            int all = 1;
            for (int n = 2; n <= 9; n++) {
                snprintf(want, sizeof want, "pane focus %d", n);
                const char *c2 = desk_binding(d, KEYM_META | ('0' + n));
                all &= c2 && !strcmp(c2, want);
            }
            if (all) {
                strbuf_printf(&b, "  %-10s %s\n", "M-1..M-9", "pane focus 1..9");
                continue;
            }
        }
        if ((k & KEYM_META) && (k & ~KEYM_META) >= '2' && (k & ~KEYM_META) <= '9') {
            snprintf(want, sizeof want, "pane focus %c", (char)(k & ~KEYM_META));
            const char *one = desk_binding(d, KEYM_META | '1');
            if (!strcmp(d->binds[i].cmd, want) && one && !strcmp(one, "pane focus 1"))
                continue;
        }
        strbuf_printf(&b, "  %-10s %s\n", keys_name(k, kn, sizeof kn), d->binds[i].cmd);
    }
    strbuf_addstr(&b, "\nCommand line: Tab completes, Up/Down history, C-r searches history,\n"
                      "  Enter runs; plain keys above act when another pane has the focus.\n"
                      "  Esc, : or Enter in a pane go back to the command line.\n");
    if (d->focus && d->focus->type->keyhelp)
        strbuf_printf(&b, "\nIn this %s pane:\n%s\n", d->focus->type->name, d->focus->type->keyhelp);
    strbuf_addstr(&b, "\n`help` lists the commands; `bind KEY COMMAND` changes a key.");
    int w = c->w - 8 > 76 ? 76 : c->w - 8, h = c->h - 4;
    if (w < 20 || h < 5) {
        strbuf_free(&b);
        return;
    }
    int x0 = (c->w - w) / 2, y0 = 2;
    canvas_fill(c, x0, y0, w, h, " ", CANVAS_DEFAULT);
    canvas_box(c, x0, y0, w, h, CANVAS_TITLE | CANVAS_BOLD);
    canvas_text(c, x0 + 2, y0, " help ", CANVAS_TITLE | CANVAS_BOLD);
    int row = 0, y = y0 + 1;
    const char *s = b.s;
    canvas_set_clip(c, x0 + 1, y0 + 1, w - 2, h - 2);
    while (s && *s && y < y0 + h - 1) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        if (row++ >= d->help_scroll) {
            char *line = util_strndup(s, n);
            canvas_text(c, x0 + 2, y++, line, CANVAS_DEFAULT);
            free(line);
        }
        s = nl ? nl + 1 : NULL;
    }
    canvas_reset_clip(c);
    strbuf_free(&b);
}

static void desk_draw_confirm(struct desk *d, struct canvas *c)
{
    const char *q = d->confirm_text ? d->confirm_text : "?";
    int w = canvas_strwidth(q) + 6;
    if (w > c->w - 2)
        w = c->w - 2;
    int h = 5, x0 = (c->w - w) / 2, y0 = (c->h - h) / 2;
    canvas_fill(c, x0, y0, w, h, " ", CANVAS_HIGHLIGHT);
    canvas_box(c, x0, y0, w, h, CANVAS_HIGHLIGHT | CANVAS_BOLD);
    canvas_text(c, x0 + 3, y0 + 1, q, CANVAS_HIGHLIGHT | CANVAS_BOLD);
    canvas_text(c, x0 + 3, y0 + 3, "y: yes    any other key: no", CANVAS_HIGHLIGHT);
}

/* Completion candidates, in columns just above the command line. */
static void desk_draw_matches(struct desk *d, struct canvas *c)
{
    struct pane *cmdp = desk_find_type(d, "cmd");
    if (!cmdp || !cmdp->cell)
        return;
    int n = 0, width = 1;
    for (char **m = d->cl.matches; *m; m++, n++)
        if (canvas_strwidth(*m) + 2 > width)
            width = canvas_strwidth(*m) + 2;
    if (!n)
        return;
    int cols = (c->w - 2) / width;
    if (cols < 1)
        cols = 1;
    int rows = (n + cols - 1) / cols, maxrows = c->h / 3;
    int shown = n;
    if (rows > maxrows) {
        rows = maxrows;
        shown = rows * cols - 1;
    }
    int y0 = cmdp->cell->y - rows - 1;
    if (y0 < 0)
        y0 = 0;
    canvas_fill(c, 0, y0, c->w, rows + 1, " ", CANVAS_DEFAULT);
    canvas_hline(c, 0, y0, c->w, CANVAS_AXIS);
    char head[48];
    snprintf(head, sizeof head, " %d completions ", n);
    canvas_text(c, 2, y0, head, CANVAS_AXIS);
    for (int i = 0; i < shown; i++)
        canvas_text(c, 1 + (i / rows) * width, y0 + 1 + i % rows, d->cl.matches[i], CANVAS_TITLE);
    if (shown < n) {
        char more[32];
        snprintf(more, sizeof more, "+%d more", n - shown);
        canvas_text(c, 1 + (shown / rows) * width, y0 + 1 + shown % rows, more, CANVAS_AXIS);
    }
}

static void desk_draw_cell(struct desk *d, struct canvas *c, struct layout_cell *l)
{
    if (l->kind != LAYOUT_LEAF) {
        desk_draw_cell(d, c, l->a);
        desk_draw_cell(d, c, l->b);
        if (l->kind == LAYOUT_H)
            canvas_vline(c, l->b->x - 1, l->y, l->h, CANVAS_AXIS);
        return;
    }
    struct pane *p = l->pane;
    if (!p || l->w <= 0 || l->h <= 0)
        return;
    int y = l->y, h = l->h;
    if (p->type->titled && h > 1) {
        int focused = p == d->focus;
        unsigned st = focused ? (CANVAS_TITLE | CANVAS_REVERSE | CANVAS_BOLD) : (CANVAS_AXIS | CANVAS_REVERSE);
        canvas_fill(c, l->x, y, l->w, 1, " ", st);
        char title[256];
        snprintf(title, sizeof title, " %d %s ", p->id, pane_title(p));
        canvas_set_clip(c, l->x, y, l->w, 1);
        canvas_text(c, l->x, y, title, st);
        if (d->zoomed == p)
            canvas_text(c, l->x + l->w - 8, y, " zoomed ", st);
        canvas_reset_clip(c);
        y++;
        h--;
    }
    p->cursor_x = p->cursor_y = -1;
    canvas_set_clip(c, l->x, y, l->w, h);
    p->type->draw(p, c, l->x, y, l->w, h);
    canvas_reset_clip(c);
    p->dirty = 0;
}

void desk_draw(struct desk *d, struct canvas *c)
{
    d->w = c->w;
    d->h = c->h;
    canvas_set_utf8(c, d->utf8);
    canvas_clear(c);
    d->cursor_x = d->cursor_y = -1;
    if (c->w < DESK_MIN_W || c->h < DESK_MIN_H) {
        char msg[96], l1[48], l2[48];
        snprintf(msg, sizeof msg, "terminal too small: %dx%d (insitu needs %dx%d)", c->w, c->h,
                 DESK_MIN_W, DESK_MIN_H);
        int len = canvas_strwidth(msg);
        if (len <= c->w) {
            canvas_text(c, (c->w - len) / 2, c->h / 2, msg, CANVAS_HIGHLIGHT | CANVAS_BOLD);
        } else {
            /* narrower still: two short lines */
            snprintf(l1, sizeof l1, "too small:");
            snprintf(l2, sizeof l2, "%dx%d<%dx%d", c->w, c->h, DESK_MIN_W, DESK_MIN_H);
            canvas_text(c, 0, c->h / 2 - 1, l1, CANVAS_HIGHLIGHT | CANVAS_BOLD);
            canvas_text(c, 0, c->h / 2, l2, CANVAS_HIGHLIGHT | CANVAS_BOLD);
        }
        d->dirty = 0;
        return;
    }
    if (!d->root)
        return;
    if (d->zoomed) {
        /* the zoomed pane takes the screen, except the command line, which stays usable */
        struct pane *cmdp = desk_find_type(d, "cmd");
        int ch = cmdp && cmdp != d->zoomed ? 1 : 0;
        layout_compute(d->root, 0, 0, c->w, c->h);
        struct layout_cell *zc = d->zoomed->cell, saved = *zc;
        zc->x = 0;
        zc->y = 0;
        zc->w = c->w;
        zc->h = c->h - ch;
        struct layout_cell *parent = zc->parent;
        zc->parent = NULL;
        desk_draw_cell(d, c, zc);
        zc->parent = parent;
        if (ch) {
            struct layout_cell *cc = cmdp->cell, s2 = *cc;
            cc->x = 0;
            cc->y = c->h - 1;
            cc->w = c->w;
            cc->h = 1;
            desk_draw_cell(d, c, cc);
            cc->x = s2.x; cc->y = s2.y; cc->w = s2.w; cc->h = s2.h;
        }
        zc->x = saved.x; zc->y = saved.y; zc->w = saved.w; zc->h = saved.h;
    } else {
        layout_compute(d->root, 0, 0, c->w, c->h);
        desk_draw_cell(d, c, d->root);
    }
    if (d->focus && d->focus->cursor_x >= 0) {
        d->cursor_x = d->focus->cursor_x;
        d->cursor_y = d->focus->cursor_y;
    }
    if (d->cl.matches)
        desk_draw_matches(d, c);
    if (d->overlay == DESK_HELP)
        desk_draw_help(d, c);
    else if (d->overlay == DESK_CONFIRM)
        desk_draw_confirm(d, c);
    d->dirty = 0;
}
