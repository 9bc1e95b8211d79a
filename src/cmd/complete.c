/* complete: candidates for Tab, generated from the same tables that run the commands. */
#include "insitu/complete.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insitu/cmd.h"
#include "insitu/desk.h"
#include "insitu/device.h"
#include "insitu/layout.h"
#include "insitu/pane.h"
#include "insitu/parse.h"
#include "insitu/settings.h"
#include "insitu/util.h"

struct cands {
    char **v;
    int n;
    const char *prefix;
};

static void cands_add(struct cands *c, const char *s)
{
    if (strncmp(s, c->prefix, strlen(c->prefix)))
        return;
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->v[i], s))
            return;
    c->v = util_reallocarray(c->v, (size_t)c->n + 2, sizeof *c->v);
    c->v[c->n++] = util_strdup(s);
    c->v[c->n] = NULL;
}

/* Add the alternatives of "a|b|c". */
static void cands_alts(struct cands *c, const char *alts)
{
    char *copy = util_strdup(alts), *save = NULL;
    for (char *t = strtok_r(copy, "|", &save); t; t = strtok_r(NULL, "|", &save))
        cands_add(c, t);
    free(copy);
}

static void cands_layouts(struct cands *c)
{
    if (!desk_current)
        return;
    struct strbuf b = { 0 };
    desk_layout_list(desk_current, &b);
    for (char *line = b.s; line && *line;) {
        char *nl = strchr(line, '\n');
        size_t n = strcspn(line, " \n");
        char *name = util_strndup(line, n);
        cands_add(c, name);
        free(name);
        line = nl ? nl + 1 : NULL;
    }
    strbuf_free(&b);
}

static void cands_panes(struct cands *c)
{
    cands_add(c, "next");
    cands_add(c, "prev");
    if (!desk_current)
        return;
    for (struct layout_cell *l = layout_first_leaf(desk_current->root); l; l = layout_next_leaf(l))
        if (l->pane) {
            char num[16];
            snprintf(num, sizeof num, "%d", l->pane->id);
            cands_add(c, num);
            if (l->pane->name)
                cands_add(c, l->pane->name);
            cands_add(c, l->pane->type->name);
        }
}

static void cands_kind(struct cands *c, const char *kind, int *files, int nwords,
                       const struct word *w)
{
    if (!strcmp(kind, "setting")) {
        for (int i = 0; i < settings_count(); i++)
            cands_add(c, settings_at(i)->name);
    } else if (!strcmp(kind, "value")) {
        /* the value of the setting named just before */
        const struct setting *s = nwords > 0 ? settings_find(w[nwords - 1].text) : NULL;
        if (s && s->choices)
            cands_alts(c, s->choices);
    } else if (!strncmp(kind, "choice:", 7)) {
        cands_alts(c, kind + 7);
    } else if (!strcmp(kind, "cmd")) {
        for (int i = 0; i < cmd_count(); i++)
            cands_add(c, cmd_at(i)->name);
    } else if (!strcmp(kind, "layout")) {
        cands_layouts(c);
        *files = c->n == 0;
    } else if (!strcmp(kind, "pane")) {
        cands_panes(c);
    } else if (!strcmp(kind, "panetype")) {
        for (int i = 0; i < pane_type_count(); i++)
            cands_add(c, pane_type_at(i)->name);
    } else if (!strcmp(kind, "device") && desk_current && desk_current->s) {
        for (int i = 0; i < device_count(desk_current->s); i++)
            cands_add(c, device_at(desk_current->s, i)->name);
    } else if (!strcmp(kind, "file") || !strcmp(kind, "dir")) {
        *files = 1;
    }
}

char **complete_line(const char *line, int start, int end, int *files)
{
    *files = 0;
    char *word = util_strndup(line + start, (size_t)(end - start));
    char *before = util_strndup(line, (size_t)start);
    struct cands c = { NULL, 0, word };
    /* Only the last command of the line matters: parse what comes before the word. */
    struct cmdlist l;
    struct parse_error pe;
    if (parse_text(before, NULL, 1, &l, &pe) != PARSE_OK) {
        free(word);
        free(before);
        return NULL;
    }
    size_t bl = strlen(before);
    int fresh = bl == 0 || strchr(";\n", before[bl - 1]);
    /* a trailing ';' ends the last command: the word starts a new one */
    const char *p = before + bl;
    while (p > before && (p[-1] == ' ' || p[-1] == '\t'))
        p--;
    if (p > before && p[-1] == ';')
        fresh = 1;
    int nw = !fresh && l.n ? l.v[l.n - 1].argc : 0;
    const struct word *w = nw ? l.v[l.n - 1].argv : NULL;
    if (nw == 0) {
        for (int i = 0; i < cmd_count(); i++) {
            cands_add(&c, cmd_at(i)->name);
            if (cmd_at(i)->alias && strlen(cmd_at(i)->alias) > 1)
                cands_add(&c, cmd_at(i)->alias);
        }
    } else {
        /* sub-commands of a group, then the argument kinds of the command */
        int has_subs = 0;
        const struct cmd_entry *plain = NULL;
        for (int i = 0; i < cmd_count(); i++) {
            const struct cmd_entry *e = cmd_at(i);
            if (strcmp(e->name, w[0].text))
                continue;
            if (e->sub) {
                has_subs = 1;
                if (nw == 1)
                    cands_add(&c, e->sub);
            } else {
                plain = e;
            }
        }
        char err[256], kind[64];
        int used = 0;
        const struct cmd_entry *e = NULL;
        if (!(has_subs && nw == 1))
            e = cmd_find(nw, w, &used, err, sizeof err);
        if (has_subs && nw == 1 && plain)
            e = plain, used = 1;
        if (e && cmd_arg_kind(e, nw - used, kind, sizeof kind))
            cands_kind(&c, kind, files, nw, w);
    }
    cmdlist_free(&l);
    free(before);
    free(word);
    return c.v;
}

void complete_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}
