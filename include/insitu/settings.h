/* settings: named values (`set clock.speed 3600`, `show archive.dir`) in one table that every
 * module adds its rows to. A value is text; quantities are checked and converted with units. */
#ifndef INSITU_SETTINGS_H
#define INSITU_SETTINGS_H

#include <stddef.h>

struct setting {
    const char *name;       /* "clock.speed" */
    const char *unit;       /* quantity unit ("s", "V"), "1" for a plain number, NULL for text */
    const char *choices;    /* "on|off|..." or NULL */
    const char *defval;     /* default, as it would be typed */
    const char *help;
    int nvalues;            /* words it takes (0 or 1 mean 1) */
    /* Veto or act on a new value (already parsed into VALS when unit is set). Return 0 to
     * accept, -1 with err set to refuse. */
    int (*apply)(const struct setting *s, const char *text, const double *vals, char *err,
                 size_t errlen);
};

/* Add a table of settings (terminated by a row with name NULL); defaults are applied. */
int settings_register(const struct setting *table);
void settings_free(void);

const struct setting *settings_find(const char *name);
/* Set from ARGC words; returns 0 or -1 with err ("unknown setting", unit errors, veto). */
int settings_set(const char *name, int argc, char *const *argv, char *err, size_t errlen);
const char *settings_text(const char *name);        /* current value as text, NULL if unknown */
double settings_num(const char *name, int i);       /* i-th value in the setting's unit */
int settings_count(void);
const struct setting *settings_at(int i);

#endif
