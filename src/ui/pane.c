/* pane: the table of pane types. Adding a type: its file and one row here. */
#include "insitu/pane.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "insitu/util.h"

extern const struct pane_type pane_log_type;
extern const struct pane_type pane_status_type;
extern const struct pane_type pane_cmd_type;
extern const struct pane_type pane_plot_type;
extern const struct pane_type pane_cycler_type;
extern const struct pane_type pane_spectrum_type;
extern const struct pane_type pane_stack_type;
extern const struct pane_type pane_trend_type;

static const struct pane_type *const pane_types[] = {
    &pane_log_type,
    &pane_status_type,
    &pane_cmd_type,
    &pane_plot_type,
    &pane_cycler_type,
    &pane_spectrum_type,
    &pane_stack_type,
    &pane_trend_type,
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

/* One chemical shift: a number with or without "ppm". Not units_parse: UDUNITS takes ppm for
 * the dimensionless 1e-6, so a bare "350" would come back as 350e6 ppm. */
static int pane_ppm_value(const char *s, size_t len, double *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    double v = strtod(buf, &end);
    if (end == buf || !isfinite(v))
        return -1;
    while (*end == ' ')
        end++;
    if (!strncasecmp(end, "ppm", 3))
        end += 3;
    if (*end)
        return -1;
    *out = v;
    return 0;
}

int pane_ppm_range(const char *text, double range[2], char *err, size_t errlen)
{
    if (!strcmp(text, "full")) {
        range[0] = range[1] = NAN;
        return 0;
    }
    const char *comma = strchr(text, ',');
    if (!comma) {
        snprintf(err, errlen, "\"%s\": a zoom is two shifts, FROM,TO (e.g. 350ppm,100ppm), or full",
                 text);
        return -1;
    }
    double a, b;
    const char *bad = pane_ppm_value(text, (size_t)(comma - text), &a) < 0 ? text
                    : pane_ppm_value(comma + 1, strlen(comma + 1), &b) < 0 ? comma + 1 : NULL;
    if (bad) {
        int n = bad == text ? (int)(comma - text) : (int)strlen(bad);
        snprintf(err, errlen, "\"%.*s\": not a chemical shift (350ppm or 350)", n, bad);
        return -1;
    }
    if (a == b) {
        snprintf(err, errlen, "a zoom needs two different shifts (got %g ppm twice)", a);
        return -1;
    }
    range[0] = fmax(a, b);
    range[1] = fmin(a, b);
    return 0;
}

void pane_ppm_describe(const double range[2], struct strbuf *out)
{
    if (isfinite(range[0]) && isfinite(range[1]))
        strbuf_printf(out, " zoom=%.10gppm,%.10gppm", range[0], range[1]);
}

void pane_format_num(double v, char *buf, size_t len)
{
    double a = fabs(v);
    if (!isfinite(v) || a == 0 || (a >= 1e-2 && a < 100)) {
        snprintf(buf, len, "%.3g", v);
        return;
    }
    if (a >= 100 && a < 1e4) {
        snprintf(buf, len, "%.0f", v);
        return;
    }
    int e = (int)floor(log10(a));
    double m = v / pow(10, e);
    if (fabs(m) >= 9.995) {   /* 9.999e4 would print as 10.00e4 */
        m /= 10;
        e++;
    }
    snprintf(buf, len, "%.2fe%d", m, e);
}
