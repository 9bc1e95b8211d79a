/* settings: one table of named values, filled by every module that has knobs. */
#include "insitu/settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insitu/units.h"
#include "insitu/util.h"

#define SETTINGS_MAXV 4

struct setting_slot {
    const struct setting *def;
    char *text;
    double val[SETTINGS_MAXV];
};

static struct setting_slot *settings_v;
static int settings_n;

static struct setting_slot *settings_slot(const char *name)
{
    for (int i = 0; i < settings_n; i++)
        if (strcmp(settings_v[i].def->name, name) == 0)
            return &settings_v[i];
    return NULL;
}

static int settings_nvalues(const struct setting *d)
{
    return d->nvalues > 1 ? d->nvalues : 1;
}

/* Parse and check ARGV for D; on success fill VALS and return 0. */
static int settings_parse(const struct setting *d, int argc, char *const *argv, double *vals,
                          char *err, size_t errlen)
{
    int nv = settings_nvalues(d);
    if (argc != nv) {
        snprintf(err, errlen, "%s takes %d value%s", d->name, nv, nv > 1 ? "s" : "");
        return -1;
    }
    for (int i = 0; i < argc; i++) {
        if (d->choices) {
            /* choices are "a|b|c": match a whole alternative */
            size_t n = strlen(argv[i]);
            const char *c = d->choices;
            int ok = 0;
            while (*c) {
                const char *bar = strchr(c, '|');
                size_t m = bar ? (size_t)(bar - c) : strlen(c);
                if (m == n && strncmp(c, argv[i], n) == 0)
                    ok = 1;
                c += m + (bar ? 1 : 0);
            }
            if (!ok) {
                snprintf(err, errlen, "%s: \"%s\": expected one of %s", d->name, argv[i], d->choices);
                return -1;
            }
        } else if (d->unit) {
            char e[200];
            if (units_parse(argv[i], d->unit, &vals[i], e, sizeof e) < 0) {
                snprintf(err, errlen, "%s: %s", d->name, e);
                return -1;
            }
        }
    }
    return 0;
}

static char *settings_join(int argc, char *const *argv)
{
    struct strbuf b = { 0 };
    for (int i = 0; i < argc; i++) {
        if (i)
            strbuf_addch(&b, ' ');
        strbuf_addstr(&b, argv[i]);
    }
    return strbuf_take(&b);
}

static int settings_assign(struct setting_slot *s, int argc, char *const *argv, char *err,
                           size_t errlen)
{
    double vals[SETTINGS_MAXV] = { 0 };
    if (settings_parse(s->def, argc, argv, vals, err, errlen) < 0)
        return -1;
    char *text = settings_join(argc, argv);
    if (s->def->apply && s->def->apply(s->def, text, vals, err, errlen) < 0) {
        free(text);
        return -1;
    }
    free(s->text);
    s->text = text;
    memcpy(s->val, vals, sizeof vals);
    return 0;
}

/* Split a default such as "-1V 4V" into words (defaults never need quoting). */
static int settings_split(const char *text, char **words, int max, char **store)
{
    char *copy = util_strdup(text);
    *store = copy;
    int n = 0;
    for (char *tok = strtok(copy, " \t"); tok && n < max; tok = strtok(NULL, " \t"))
        words[n++] = tok;
    return n;
}

int settings_register(const struct setting *table)
{
    int rc = 0;
    for (const struct setting *d = table; d->name; d++) {
        if (settings_slot(d->name) || settings_nvalues(d) > SETTINGS_MAXV) {
            fprintf(stderr, "insitu: internal: setting %s defined twice or too wide\n", d->name);
            rc = -1;
            continue;
        }
        settings_v = util_reallocarray(settings_v, (size_t)settings_n + 1, sizeof *settings_v);
        struct setting_slot *s = &settings_v[settings_n++];
        memset(s, 0, sizeof *s);
        s->def = d;
        char *words[SETTINGS_MAXV], *store, err[256];
        int n = settings_split(d->defval ? d->defval : "", words, SETTINGS_MAXV, &store);
        if (!d->defval || !*d->defval) {
            s->text = util_strdup("");
        } else if (settings_assign(s, n, words, err, sizeof err) < 0) {
            fprintf(stderr, "insitu: internal: default of %s: %s\n", d->name, err);
            s->text = util_strdup(d->defval);
            rc = -1;
        }
        free(store);
    }
    return rc;
}

void settings_free(void)
{
    for (int i = 0; i < settings_n; i++)
        free(settings_v[i].text);
    free(settings_v);
    settings_v = NULL;
    settings_n = 0;
}

const struct setting *settings_find(const char *name)
{
    struct setting_slot *s = settings_slot(name);
    return s ? s->def : NULL;
}

int settings_set(const char *name, int argc, char *const *argv, char *err, size_t errlen)
{
    struct setting_slot *s = settings_slot(name);
    if (!s) {
        snprintf(err, errlen, "unknown setting \"%s\" (`show` lists them)", name);
        return -1;
    }
    return settings_assign(s, argc, argv, err, errlen);
}

const char *settings_text(const char *name)
{
    struct setting_slot *s = settings_slot(name);
    return s ? s->text : NULL;
}

double settings_num(const char *name, int i)
{
    struct setting_slot *s = settings_slot(name);
    return s && i >= 0 && i < SETTINGS_MAXV ? s->val[i] : 0.0;
}

int settings_count(void)
{
    return settings_n;
}

const struct setting *settings_at(int i)
{
    return i >= 0 && i < settings_n ? settings_v[i].def : NULL;
}
