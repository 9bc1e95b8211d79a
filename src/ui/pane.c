/* pane: the table of pane types. Adding a type: its file and one row here. */
#include "insitu/pane.h"

#include <stdio.h>
#include <string.h>

extern const struct pane_type pane_log_type;
extern const struct pane_type pane_status_type;
extern const struct pane_type pane_cmd_type;
extern const struct pane_type pane_plot_type;
extern const struct pane_type pane_cycler_type;

static const struct pane_type *const pane_types[] = {
    &pane_log_type,
    &pane_status_type,
    &pane_cmd_type,
    &pane_plot_type,
    &pane_cycler_type,
};

const struct pane_type *pane_type_find(const char *name)
{
    for (size_t i = 0; i < sizeof pane_types / sizeof *pane_types; i++)
        if (!strcmp(pane_types[i]->name, name))
            return pane_types[i];
    return NULL;
}

int pane_type_count(void)
{
    return (int)(sizeof pane_types / sizeof *pane_types);
}

const struct pane_type *pane_type_at(int i)
{
    return i >= 0 && i < pane_type_count() ? pane_types[i] : NULL;
}

const char *pane_title(const struct pane *p)
{
    static char buf[160];
    snprintf(buf, sizeof buf, "%s%s%s", p->name ? p->name : p->type->name,
             p->name ? " " : "", p->name ? p->type->name : "");
    return buf;
}
