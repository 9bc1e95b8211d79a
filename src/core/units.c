/* units: quantities with units, parsed and converted by UDUNITS-2.
 *
 * UDUNITS parses "500mA" as the unit "0.5 A": a number in front of a unit is a scale factor.
 * So a quantity is parsed as a unit and converted to the wanted unit by converting 1.0. This
 * gives every prefix and symbol UDUNITS knows (and the CF conventions use) for free. */
#include "insitu/units.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <udunits2.h>

#include "insitu/util.h"

static ut_system *units_sys;

/* The kinds of quantity a lab program asks for, to say what the user typed instead. */
static const struct {
    const char *unit, *kind;
} units_kinds[] = {
    { "A", "current" },        { "V", "voltage" },       { "s", "time" },
    { "Hz", "frequency" },     { "V/s", "scan rate" },   { "C", "charge" },
    { "ohm", "resistance" },   { "F", "capacitance" },   { "m", "length" },
    { "m/s", "speed" },        { "K", "temperature" },   { "T", "magnetic field" },
    { "W", "power" },          { "S", "conductance" },   { "A/m2", "current density" },
    { "m2/s", "diffusion coefficient" }, { "kg", "mass" }, { "Pa", "pressure" },
    { "1", "number" },
};

static int units_map_extra(char *err, size_t errlen)
{
    /* Battery people write charge in ampere hours ("7.5Ah", "0.89nAh"); UDUNITS only knows
     * "A.h". A symbol mapping makes the prefixed forms work too. "ppm" is already known. */
    static const struct {
        const char *sym, *def;
    } extra[] = { { "Ah", "A.h" }, { "Wh", "W.h" } };
    for (size_t i = 0; i < ARRAY_LEN(extra); i++) {
        ut_unit *u = ut_parse(units_sys, extra[i].def, UT_ASCII);
        if (!u || ut_map_symbol_to_unit(extra[i].sym, UT_ASCII, u) != UT_SUCCESS) {
            snprintf(err, errlen, "units: cannot define %s", extra[i].sym);
            ut_free(u);
            return -1;
        }
        ut_free(u);
    }
    return 0;
}

int units_init(char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    if (units_sys)
        return 0;
    /* UDUNITS prints parse errors to stderr by default; we report them ourselves. */
    ut_set_error_message_handler(ut_ignore);
    units_sys = ut_read_xml(NULL);
    if (!units_sys) {
        snprintf(err, errlen, "units: cannot read the UDUNITS-2 database (%s)",
                 getenv("UDUNITS2_XML_PATH") ? getenv("UDUNITS2_XML_PATH") : "default path");
        return -1;
    }
    if (units_map_extra(err, errlen) < 0) {
        ut_free_system(units_sys);
        units_sys = NULL;
        return -1;
    }
    return 0;
}

void units_fini(void)
{
    if (units_sys)
        ut_free_system(units_sys);
    units_sys = NULL;
}

static ut_unit *units_get(const char *text)
{
    if (units_init(NULL, 0) < 0)
        return NULL;
    /* UDUNITS rejects leading/trailing blanks; people type them. */
    while (isspace((unsigned char)*text))
        text++;
    size_t n = strlen(text);
    while (n && isspace((unsigned char)text[n - 1]))
        n--;
    if (n == 0)
        return NULL;
    char *t = util_strndup(text, n);
    /* "ohm" and "Ohm" are both common in labs; UDUNITS knows "ohm" and the symbol. */
    ut_unit *u = ut_parse(units_sys, t, UT_ASCII);
    if (!u && strstr(t, "Ohm")) {
        char *p;
        while ((p = strstr(t, "Ohm")))
            *p = 'o';
        u = ut_parse(units_sys, t, UT_ASCII);
    }
    free(t);
    return u;
}

static const char *units_kind_of(ut_unit *u)
{
    for (size_t i = 0; i < ARRAY_LEN(units_kinds); i++) {
        ut_unit *k = ut_parse(units_sys, units_kinds[i].unit, UT_ASCII);
        int same = k && ut_are_convertible(u, k);
        ut_free(k);
        if (same)
            return units_kinds[i].kind;
    }
    return NULL;
}

const char *units_kind(const char *unit)
{
    ut_unit *u = units_get(unit);
    if (!u)
        return NULL;
    const char *k = units_kind_of(u);
    ut_free(u);
    return k;
}

int units_parse(const char *text, const char *want, double *out, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    if (units_init(err, errlen) < 0)
        return -1;
    ut_unit *w = units_get(want);
    if (!w) {
        snprintf(err, errlen, "internal: unknown unit \"%s\"", want);
        return -1;
    }
    /* The number is read here and only the rest goes to UDUNITS: a number in front of an
     * offset unit ("22.5degC") would otherwise be taken as a scale factor of that unit. */
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    char *end;
    double num = strtod(p, &end);
    if (end == p || !isfinite(num) || memchr(p, 'x', (size_t)(end - p)) ||
        memchr(p, 'X', (size_t)(end - p))) {
        snprintf(err, errlen, "\"%s\": not a number", text);
        ut_free(w);
        return -1;
    }
    while (isspace((unsigned char)*end))
        end++;
    if (!*end) {
        int ok = ut_is_dimensionless(w);
        if (!ok) {
            const char *k = units_kind_of(w);
            snprintf(err, errlen, "\"%s\": missing unit (a %s, e.g. %s%s)", text,
                     k ? k : want, p, want);
        } else {
            *out = num;   /* a bare number is taken in the wanted (dimensionless) unit */
        }
        ut_free(w);
        return ok ? 0 : -1;
    }
    ut_unit *u = units_get(end);
    if (!u) {
        snprintf(err, errlen, "\"%s\": unknown unit", text);
        ut_free(w);
        return -1;
    }
    if (!ut_are_convertible(u, w)) {
        const char *got = units_kind_of(u), *need = units_kind_of(w);
        if (got && need)
            snprintf(err, errlen, "\"%s\" is a %s, not a %s", text, got, need);
        else
            snprintf(err, errlen, "\"%s\": wrong unit (need %s)", text, want);
        ut_free(u);
        ut_free(w);
        return -1;
    }
    cv_converter *cv = ut_get_converter(u, w);
    double v = cv ? cv_convert_double(cv, num) : NAN;
    cv_free(cv);
    ut_free(u);
    ut_free(w);
    if (!isfinite(v)) {
        snprintf(err, errlen, "\"%s\": cannot convert to %s", text, want);
        return -1;
    }
    *out = v;
    return 0;
}

int units_valid(const char *unit, const char *want)
{
    ut_unit *u = units_get(unit);
    if (!u)
        return 0;
    int ok = 1;
    if (want) {
        ut_unit *w = units_get(want);
        ok = w && ut_are_convertible(u, w);
        ut_free(w);
    }
    ut_free(u);
    return ok;
}

int units_convert(double value, const char *from, const char *to, double *out)
{
    ut_unit *a = units_get(from), *b = units_get(to);
    int rc = -1;
    if (a && b && ut_are_convertible(a, b)) {
        cv_converter *cv = ut_get_converter(a, b);
        if (cv) {
            *out = cv_convert_double(cv, value);
            cv_free(cv);
            rc = 0;
        }
    }
    ut_free(a);
    ut_free(b);
    return rc;
}

char *units_format(double value, const char *unit, int sig, char *buf, size_t len)
{
    static const struct {
        double f;
        const char *p;
    } pre[] = { { 1e12, "T" }, { 1e9, "G" }, { 1e6, "M" }, { 1e3, "k" }, { 1, "" },
                { 1e-3, "m" }, { 1e-6, "u" }, { 1e-9, "n" }, { 1e-12, "p" }, { 1e-15, "f" } };
    if (sig < 1)
        sig = 4;
    const char *sp = unit && *unit ? " " : "";
    if (!unit)
        unit = "";
    if (!isfinite(value)) {
        snprintf(buf, len, "%s%s%s", isnan(value) ? "nan" : value > 0 ? "inf" : "-inf", sp, unit);
        return buf;
    }
    /* Units that people never prefix (h, ppm, degC, %) are printed plainly. */
    int prefixable = *unit && strcmp(unit, "1") && strcmp(unit, "h") && strcmp(unit, "ppm") &&
                     strcmp(unit, "degC") && strcmp(unit, "%") && strcmp(unit, "min");
    if (value == 0 || !prefixable) {
        snprintf(buf, len, "%.*g%s%s", sig, value, sp, strcmp(unit, "1") ? unit : "");
        return buf;
    }
    double a = fabs(value);
    size_t i = 0;
    while (i + 1 < ARRAY_LEN(pre) && a < pre[i].f * 0.9995)
        i++;
    snprintf(buf, len, "%.*g %s%s", sig, value / pre[i].f, pre[i].p, unit);
    return buf;
}

char *units_format_duration(double s, char *buf, size_t len)
{
    if (!isfinite(s)) {
        snprintf(buf, len, "-");
        return buf;
    }
    const char *sign = s < 0 ? "-" : "";
    s = fabs(s);
    if (s < 60) {
        snprintf(buf, len, "%s%.1fs", sign, s);
        return buf;
    }
    long t = (long)floor(s + 0.5);
    long d = t / 86400, h = (t / 3600) % 24, m = (t / 60) % 60, sec = t % 60;
    if (d)
        snprintf(buf, len, "%s%ldd %02ldh %02ldm", sign, d, h, m);
    else if (h)
        snprintf(buf, len, "%s%ldh %02ldm %02lds", sign, h, m, sec);
    else
        snprintf(buf, len, "%s%ldm %02lds", sign, m, sec);
    return buf;
}
