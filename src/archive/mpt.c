/* mpt: BioLogic EC-Lab text exports (.mpt) into columns, and columns into a run.
 *
 * A .mpt file as EC-Lab writes it:
 *
 *   EC-Lab ASCII FILE
 *   Nb header lines : 58                    <- counts every line up to the column names
 *   (blank)
 *   Galvanostatic Cycling with Potential Limitation      <- the technique
 *   ... "key : value" settings, "Acquisition started on : 04/12/2023 14:08:22", the
 *   ... technique's parameter table (space-aligned), ...
 *   mode<TAB>ox/red<TAB>...<TAB>time/s<TAB>Ewe/V<TAB>I/mA<TAB>...<TAB>    <- line 58
 *   2<TAB>1<TAB>...<TAB>1,000000000000000E+000<TAB>...<TAB>               <- data
 *
 * "Export as text" can leave the header out (the file starts at the column names). The text is
 * Windows-1252 (Latin-1 for what matters: "µ", "°"), the lines end in CRLF, rows end in a tab,
 * and the decimal mark is that of the Windows locale, so it is found from the data. Files cut
 * short while being copied, hand-edited header counts and odd rows are common enough that the
 * parser recovers what it can and says so (warnings), and refuses only what it cannot read. */
#include "insitu/ecfile.h"

#include <ctype.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "insitu/ec.h"
#include "insitu/units.h"

#define MPT_MAGIC "EC-Lab ASCII FILE"
#define MPT_NB_HEADER "Nb header lines"
#define MPT_MAX_COLUMNS 512     /* EC-Lab writes at most ~70 */
#define MPT_MAX_CELL 64         /* longer cells are not numbers */

struct mpt_line {               /* one line of the text, without its line end */
    const char *s;
    size_t n;
};

struct mpt_parser {
    const char *file;
    struct mpt_line *lines;
    int nlines;
    int last_open;              /* the last line has no line end (the file may be cut short) */
    char *err;
    size_t errlen;
    struct mpt *m;
};

/* ---- small helpers ----------------------------------------------------------------------- */

static void mpt_fail(struct mpt_parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void mpt_fail(struct mpt_parser *p, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *reason = util_vprintf(fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(p->err, p->errlen, "%s:%d: %s", p->file, line, reason);
    else
        snprintf(p->err, p->errlen, "%s: %s", p->file, reason);
    free(reason);
}

static void mpt_warn(struct mpt *m, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void mpt_warn(struct mpt *m, int line, const char *fmt, ...)
{
    /* Only the first few are kept: a file with a thousand ragged rows needs one example and
     * a count, not a thousand lines. */
    if (m->nwarn < (int)ARRAY_LEN(m->warn)) {
        va_list ap;
        va_start(ap, fmt);
        char *reason = util_vprintf(fmt, ap);
        va_end(ap);
        m->warn[m->nwarn] = line > 0 ? util_printf("%s:%d: %s", m->file, line, reason)
                                     : util_printf("%s: %s", m->file, reason);
        free(reason);
    }
    m->nwarn++;
}

static int mpt_blank(const struct mpt_line *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (!isspace((unsigned char)l->s[i]))
            return 0;
    return 1;
}

/* Does L begin with PREFIX (after leading blanks)? */
static int mpt_starts(const struct mpt_line *l, const char *prefix)
{
    size_t i = 0, k = strlen(prefix);
    while (i < l->n && (l->s[i] == ' ' || l->s[i] == '\t'))
        i++;
    return l->n - i >= k && memcmp(l->s + i, prefix, k) == 0;
}

/* The length of the valid UTF-8 sequence at S (N bytes left), 0 if there is none. */
static size_t mpt_utf8_seq(const unsigned char *s, size_t n)
{
    size_t k;
    unsigned lo = 0x80, hi = 0xBF;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        k = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        k = 3;
        if (s[0] == 0xE0)
            lo = 0xA0;
        if (s[0] == 0xED)
            hi = 0x9F;          /* no UTF-16 surrogates */
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        k = 4;
        if (s[0] == 0xF0)
            lo = 0x90;
        if (s[0] == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n < k || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < k; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return k;
}

/* S as UTF-8: valid UTF-8 is kept, any other byte is taken as Latin-1 (what EC-Lab writes),
 * C1 controls and NUL become '?'. Newly allocated. */
static char *mpt_utf8(const char *s, size_t n)
{
    struct strbuf b = { 0 };
    strbuf_add(&b, "", 0);
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k;
        if (u[i] < 0x80) {
            strbuf_addch(&b, u[i] ? (char)u[i] : '?');
            i++;
        } else if ((k = mpt_utf8_seq(u + i, n - i))) {
            strbuf_add(&b, s + i, k);
            i += k;
        } else if (u[i] < 0xA0) {
            strbuf_addch(&b, '?');
            i++;
        } else {
            strbuf_addch(&b, (char)(0xC0 | (u[i] >> 6)));
            strbuf_addch(&b, (char)(0x80 | (u[i] & 0x3F)));
            i++;
        }
    }
    return strbuf_take(&b);
}

/* Trimmed copy of the value after the first ':' of L, as UTF-8; NULL if there is none. */
static char *mpt_value(const struct mpt_line *l)
{
    const char *c = memchr(l->s, ':', l->n);
    if (!c)
        return NULL;
    const char *a = c + 1, *e = l->s + l->n;
    while (a < e && isspace((unsigned char)*a))
        a++;
    while (e > a && isspace((unsigned char)e[-1]))
        e--;
    return mpt_utf8(a, (size_t)(e - a));
}

/* ---- numbers ----------------------------------------------------------------------------- */

/* Parse one cell with decimal mark DEC. Returns 1 (a number in *OUT), 0 (empty: NAN) or -1
 * (not a number). Only plain decimal numbers and "nan" pass: strtod alone would also take
 * hex floats, "inf" and "infinity", which no instrument writes and a corrupt file might. The
 * caller has made LC_NUMERIC "C" so that strtod reads '.'. */
static int mpt_number(const char *s, size_t n, char dec, double *out)
{
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n == 0) {
        *out = NAN;
        return 0;
    }
    if (n >= MPT_MAX_CELL)
        return -1;
    char buf[MPT_MAX_CELL];
    int digits = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == ',' && dec == ',')
            c = '.';
        if (isdigit((unsigned char)c))
            digits = 1;
        else if (!strchr("+-.eE", c) || c == '\0') {
            if (n == 3 && strncasecmp(s, "nan", 3) == 0) {
                *out = NAN;
                return 1;
            }
            return -1;
        }
        buf[i] = c;
    }
    buf[n] = '\0';
    if (!digits)
        return -1;
    char *end;
    double v = strtod(buf, &end);
    if (end != buf + n || !isfinite(v))
        return -1;
    *out = v;
    return 1;
}

/* Does the cell look like a number in either decimal mark? (to tell data from names) */
static int mpt_numeric(const char *s, size_t n)
{
    double v;
    return mpt_number(s, n, ',', &v) == 1 || mpt_number(s, n, '.', &v) == 1;
}

/* ---- lines and cells --------------------------------------------------------------------- */

static int mpt_split_lines(struct mpt_parser *p, const char *text, size_t len)
{
    size_t cap = 0;
    /* A UTF-8 byte order mark is not part of the first line. */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        text += 3;
        len -= 3;
    }
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len;
        if (p->nlines == INT_MAX) {
            mpt_fail(p, 0, "too many lines");
            return -1;
        }
        if ((size_t)p->nlines == cap) {
            cap = cap ? cap * 2 : 256;
            p->lines = util_reallocarray(p->lines, cap, sizeof *p->lines);
        }
        struct mpt_line *l = &p->lines[p->nlines++];
        l->s = text + i;
        l->n = end - i;
        if (l->n && l->s[l->n - 1] == '\r')
            l->n--;
        p->last_open = !nl;
        i = nl ? end + 1 : len;
    }
    return 0;
}

/* The cells of L (split at tabs) into CELLS (at most MAX), trailing empty cells left out (EC-Lab
 * ends every row with a tab). Returns the number of cells, which may exceed MAX. */
static int mpt_cells(const struct mpt_line *l, struct mpt_line *cells, int max)
{
    int n = 0, last = 0;
    size_t i = 0;
    for (;;) {
        const char *tab = memchr(l->s + i, '\t', l->n - i);
        size_t end = tab ? (size_t)(tab - l->s) : l->n;
        if (n < max) {
            cells[n].s = l->s + i;
            cells[n].n = end - i;
        }
        n++;
        int empty = 1;
        for (size_t k = i; k < end; k++)
            if (!isspace((unsigned char)l->s[k]))
                empty = 0;
        if (!empty)
            last = n;
        if (!tab)
            break;
        i = end + 1;
    }
    return last;
}

/* Column names: at least two tab-separated cells, none of them empty or a number (an indented
 * header line such as "\tEwe min = -1 V" begins with an empty cell). */
static int mpt_is_column_line(const struct mpt_line *l)
{
    if (!memchr(l->s, '\t', l->n))
        return 0;
    struct mpt_line c[MPT_MAX_COLUMNS];
    int n = mpt_cells(l, c, MPT_MAX_COLUMNS);
    if (n < 2 || n > MPT_MAX_COLUMNS)
        return 0;
    for (int i = 0; i < n; i++) {
        struct mpt_line cell = c[i];
        if (mpt_blank(&cell) || mpt_numeric(cell.s, cell.n))
            return 0;
    }
    return 1;
}

/* A data row: its first cell is a number. */
static int mpt_is_data_line(const struct mpt_line *l)
{
    const char *tab = memchr(l->s, '\t', l->n);
    return mpt_numeric(l->s, tab ? (size_t)(tab - l->s) : l->n);
}

/* Is line I the column line: column names followed by data (or by nothing, unless NEED_DATA:
 * where the header count says so, a file cut right after the names is reported as such)? */
static int mpt_column_line_at(const struct mpt_parser *p, int i, int need_data)
{
    if (i < 0 || i >= p->nlines || !mpt_is_column_line(&p->lines[i]))
        return 0;
    for (int k = i + 1; k < p->nlines; k++)
        if (!mpt_blank(&p->lines[k]))
            return mpt_is_data_line(&p->lines[k]);
    return !need_data;
}

/* ---- units ------------------------------------------------------------------------------- */

/* A unit as EC-Lab writes it, in the ASCII that UDUNITS reads: "µF" -> "uF", "°C" -> "degC",
 * "deg" -> "degree", "cm²" -> "cm2". Newly allocated. */
static char *mpt_unit_ascii(const char *u)
{
    struct strbuf b = { 0 };
    strbuf_add(&b, "", 0);
    if (strcmp(u, "deg") == 0) {
        strbuf_addstr(&b, "degree");
        return strbuf_take(&b);
    }
    for (const char *s = u; *s;) {
        if (!strncmp(s, "\xC2\xB5", 2) || !strncmp(s, "\xCE\xBC", 2)) {    /* micro, mu */
            strbuf_addch(&b, 'u');
            s += 2;
        } else if (!strncmp(s, "\xC2\xB0" "C", 3)) {                         /* degree C */
            strbuf_addstr(&b, "degC");
            s += 3;
        } else if (!strncmp(s, "\xC2\xB0", 2)) {
            strbuf_addstr(&b, "degree");
            s += 2;
        } else if (!strncmp(s, "\xC2\xB2", 2) || !strncmp(s, "\xC2\xB3", 2)) {  /* ², ³ */
            strbuf_addch(&b, (unsigned char)s[1] == 0xB2 ? '2' : '3');
            s += 2;
        } else {
            strbuf_addch(&b, *s++);
        }
    }
    return strbuf_take(&b);
}

/* Unit syntax as EC-Lab writes units: "%", or symbols with an optional integer power joined
 * by '.' or '/' ("mA.h", "Ohm-1", "S.cm-1", "mA.h/g"). Only such strings reach UDUNITS: it
 * would take more ("0.5 V", "1/s"), but UDUNITS 2.2 leaks memory on some odd syntax
 * ("mA2.+0.h"), and a column name is text from anywhere. */
static int mpt_unit_syntax(const char *a)
{
    if (strcmp(a, "%") == 0)
        return 1;
    size_t n = 0;
    for (;;) {
        size_t k = 0;
        while (isalpha((unsigned char)a[n + k]) || a[n + k] == '_')
            k++;
        if (k == 0)
            return 0;
        n += k;
        if (a[n] == '-' && isdigit((unsigned char)a[n + 1]))
            n++;
        while (isdigit((unsigned char)a[n]))
            n++;
        if (a[n] == '\0')
            return n <= 32;
        if (a[n] != '.' && a[n] != '/')
            return 0;
        n++;
    }
}

static int mpt_unit_ok(const char *u)
{
    char *a = mpt_unit_ascii(u);
    int ok = mpt_unit_syntax(a) && units_valid(a, NULL);
    free(a);
    return ok;
}

/* Split NAME into quantity and unit. The unit is what follows the last '/' ("I/mA",
 * "Q charge/discharge/mA.h"); when the part before it is a unit too, the unit is both
 * ("Q charge/mA.h/g", "dI/dt/mA/s"), but only one step further, because a quantity such as
 * "dt" reads as a unit to UDUNITS (deci-tonne). A name whose last part is no unit ("ox/red",
 * "cycle number") is a quantity without a unit. */
static void mpt_split_name(const char *name, char **quantity, char **unit)
{
    *quantity = util_strdup(name);
    *unit = NULL;
    const char *last = strrchr(name, '/');
    if (!last || last == name || !last[1] || !mpt_unit_ok(last + 1))
        return;
    const char *cut = last;
    const char *prev = NULL;
    for (const char *s = name; s < last; s++)
        if (*s == '/')
            prev = s;
    if (prev && prev > name) {
        char *seg = util_strndup(prev + 1, (size_t)(last - prev - 1));
        if (mpt_unit_ok(seg) && mpt_unit_ok(prev + 1))
            cut = prev;
        free(seg);
    }
    free(*quantity);
    *quantity = util_strndup(name, (size_t)(cut - name));
    *unit = util_strdup(cut + 1);
}

/* Conversion to SI: the first unit of this list the column's unit converts to. "A h" before
 * "C": the ec table keeps charge in A h. */
static const char *const mpt_si_units[] = {
    "A", "V", "s", "A h", "W h", "W", "ohm", "S", "Hz", "F", "degC",
};

/* Find the SI unit of UNIT (ASCII) and the linear map into it. UDUNITS calls reciprocal units
 * convertible (ohm and S, s and Hz): such a map is not linear, and f(2) = 2 f(1) - f(0) is what
 * tells them apart. Dimensionless units ("%", "degree") stay as they are: UDUNITS would turn a
 * percentage into degrees. Returns the SI unit or NULL. */
static const char *mpt_si(const char *unit, double *scale, double *offset)
{
    double d;
    if (units_convert(1.0, unit, "1", &d) == 0)
        return NULL;
    for (size_t i = 0; i < ARRAY_LEN(mpt_si_units); i++) {
        double f0, f1, f2;
        if (units_convert(0.0, unit, mpt_si_units[i], &f0) < 0 ||
            units_convert(1.0, unit, mpt_si_units[i], &f1) < 0 ||
            units_convert(2.0, unit, mpt_si_units[i], &f2) < 0)
            continue;
        double a = f1 - f0;
        if (!isfinite(f0) || !isfinite(f1) || !isfinite(f2) || a == 0 ||
            fabs(f2 - (2 * f1 - f0)) > 1e-9 * (fabs(f1) + fabs(f2)))
            continue;
        *scale = a;
        *offset = f0;
        return mpt_si_units[i];
    }
    return NULL;
}

/* Name, quantity, unit and SI unit of column C; *SCALE and *OFFSET map file values to SI. */
static void mpt_column_setup(struct mpt_column *c, double *scale, double *offset)
{
    *scale = 1;
    *offset = 0;
    mpt_split_name(c->name, &c->quantity, &c->unit);
    if (!c->unit)
        return;
    /* "control/V/mA" holds the set point: volts in potentiostatic steps and milliamperes in
     * galvanostatic ones, in one column. No single conversion is right, so it is left as it
     * is (si NULL). */
    if (strcmp(c->name, "control/V/mA") == 0) {
        free(c->quantity);
        free(c->unit);
        c->quantity = util_strdup("control/V");
        c->unit = util_strdup("mA");
        return;
    }
    char *ascii = mpt_unit_ascii(c->unit);
    const char *si = mpt_si(ascii, scale, offset);
    c->si = util_strdup(si ? si : ascii);
    free(ascii);
}

/* ---- the header -------------------------------------------------------------------------- */

static void mpt_add_name(char **list, const char *name)
{
    if (!*name)
        return;
    if (!*list) {
        *list = util_strdup(name);
        return;
    }
    /* no repeats: linked techniques often run the same one twice */
    size_t n = strlen(name);
    for (const char *s = *list; (s = strstr(s, name)); s += n)
        if ((s == *list || (s >= *list + 2 && s[-2] == ';')) && (s[n] == '\0' || s[n] == ';'))
            return;
    char *t = util_printf("%s; %s", *list, name);
    free(*list);
    *list = t;
}

static void mpt_parse_start(struct mpt_parser *p, int line, const char *value)
{
    struct mpt *m = p->m;
    char buf[64];
    util_strlcpy(buf, value, sizeof buf);
    for (char *s = buf; *s; s++)
        if (*s == ',')
            *s = '.';     /* fractional seconds with a decimal comma */
    struct mpt_time t = { 0 };
    int n = 0;
    char sep1, sep2;
    if (sscanf(buf, "%2d%c%2d%c%4d %2d:%2d:%lf%n", &t.month, &sep1, &t.day, &sep2, &t.year,
               &t.hour, &t.min, &t.sec, &n) == 8 &&
        sep1 == sep2 && (sep1 == '/' || sep1 == '.' || sep1 == '-') && buf[n] == '\0' &&
        t.month >= 1 && t.month <= 12 && t.day >= 1 && t.day <= 31 && t.year >= 1970 &&
        t.hour >= 0 && t.hour <= 23 && t.min >= 0 && t.min <= 59 && t.sec >= 0 && t.sec < 61) {
        m->has_start = 1;
        m->start = t;
    } else {
        mpt_warn(m, line, "acquisition start \"%s\" is not mm/dd/yyyy HH:MM:SS (ignored)",
                 value);
    }
}

/* What the header says: technique(s), device, channel, acquisition start, and the header as
 * text. Lines 0..NHEAD-1. */
static void mpt_read_header(struct mpt_parser *p, int nhead)
{
    struct mpt *m = p->m;
    struct strbuf h = { 0 };
    int first = 1;
    for (int i = 0; i < nhead; i++) {
        const struct mpt_line *l = &p->lines[i];
        char *u = mpt_utf8(l->s, l->n);
        strbuf_printf(&h, "%s\n", u);
        free(u);
        if (i < 2)
            continue;
        char *v = NULL;
        if (first && !mpt_blank(l)) {
            /* the first text after the line count names the technique (or "Modulo Bat", or
             * a settings line in files from other programs: those have a ':') */
            first = 0;
            if (!memchr(l->s, ':', l->n)) {
                v = mpt_utf8(l->s, l->n);
                char *t = v + strspn(v, " \t");
                for (size_t k = strlen(t); k && isspace((unsigned char)t[k - 1]); k--)
                    t[k - 1] = '\0';
                mpt_add_name(&m->technique, t);
            }
        } else if (mpt_starts(l, "Technique :") && i + 1 < nhead) {
            /* linked techniques: "Technique : 2" then the name on the next line */
            const struct mpt_line *nx = &p->lines[i + 1];
            v = mpt_utf8(nx->s, nx->n);
            char *t = v + strspn(v, " \t");
            for (size_t k = strlen(t); k && isspace((unsigned char)t[k - 1]); k--)
                t[k - 1] = '\0';
            if (!strchr(t, ':'))
                mpt_add_name(&m->technique, t);
        } else if (mpt_starts(l, "Acquisition started on") && !m->start_text) {
            v = mpt_value(l);
            if (v) {
                m->start_text = util_strdup(v);
                mpt_parse_start(p, i + 1, v);
            }
        } else if (mpt_starts(l, "Device :") && !m->device) {
            m->device = mpt_value(l);
        } else if (mpt_starts(l, "Run on channel") && !m->channel) {
            m->channel = mpt_value(l);
        }
        free(v);
    }
    if (h.len && h.s[h.len - 1] == '\n')
        h.s[--h.len] = '\0';
    m->header = strbuf_take(&h);
}

/* Find the column line (0-based) of a file that starts with the magic line. */
static int mpt_find_columns(struct mpt_parser *p)
{
    struct mpt *m = p->m;
    long nb = -1;
    if (p->nlines > 1 && mpt_starts(&p->lines[1], MPT_NB_HEADER)) {
        char *v = mpt_value(&p->lines[1]);
        char *end;
        long n = v ? strtol(v, &end, 10) : -1;
        if (v && end != v && *end == '\0' && n > 0 && n <= INT_MAX)
            nb = n;
        free(v);
    }
    if (nb > 0 && mpt_column_line_at(p, (int)nb - 1, 0))
        return (int)nb - 1;
    /* The count is wrong (hand-edited header, a converter that miscounts) or missing: the
     * column names are the first line of names that data follows. */
    for (int i = 1; i < p->nlines; i++) {
        if (!mpt_column_line_at(p, i, 1))
            continue;
        if (nb > 0)
            mpt_warn(m, 2, "the header says %ld lines, but the column names are on line %d",
                     nb, i + 1);
        else
            mpt_warn(m, 2, "no \"" MPT_NB_HEADER " : N\" line; the column names are on "
                     "line %d", i + 1);
        return i;
    }
    if (nb > p->nlines)
        mpt_fail(p, 2, "the header has %ld lines but the file ends at line %d (truncated?)", nb,
                 p->nlines);
    else if (nb > 0)
        mpt_fail(p, (int)nb, "expected the tab-separated column names (\"" MPT_NB_HEADER
                 " : %ld\")", nb);
    else
        mpt_fail(p, p->nlines > 1 ? 2 : 1, "expected \"" MPT_NB_HEADER
                 " : N\", and found no tab-separated column names followed by data");
    return -1;
}

/* ---- the data ---------------------------------------------------------------------------- */

static int mpt_read_columns(struct mpt_parser *p, int ci, double **scale, double **offset)
{
    struct mpt *m = p->m;
    const struct mpt_line *l = &p->lines[ci];
    struct mpt_line *c = util_calloc(MPT_MAX_COLUMNS, sizeof *c);
    int n = mpt_cells(l, c, MPT_MAX_COLUMNS);
    if (n > MPT_MAX_COLUMNS) {
        mpt_fail(p, ci + 1, "%d columns (at most %d)", n, MPT_MAX_COLUMNS);
        free(c);
        return -1;
    }
    if (n < 1) {
        mpt_fail(p, ci + 1, "expected the tab-separated column names");
        free(c);
        return -1;
    }
    m->ncols = n;
    m->cols = util_calloc((size_t)n, sizeof *m->cols);
    *scale = util_calloc((size_t)n, sizeof **scale);
    *offset = util_calloc((size_t)n, sizeof **offset);
    for (int i = 0; i < n; i++) {
        char *name = mpt_utf8(c[i].s, c[i].n);
        char *a = name + strspn(name, " ");
        for (size_t k = strlen(a); k && a[k - 1] == ' '; k--)
            a[k - 1] = '\0';
        m->cols[i].name = *a ? util_strdup(a) : util_printf("column %d", i + 1);
        free(name);
        mpt_column_setup(&m->cols[i], &(*scale)[i], &(*offset)[i]);
    }
    free(c);
    return 0;
}

/* The decimal mark of the data: a comma when more cells have one than have a point. Both in
 * one file means one of them is damage, which the cells then report. */
static char mpt_decimal(const struct mpt_parser *p, int first)
{
    size_t comma = 0, point = 0;
    for (int i = first; i < p->nlines; i++) {
        const struct mpt_line *l = &p->lines[i];
        int in_comma = 0, in_point = 0;
        for (size_t k = 0; k <= l->n; k++) {
            if (k == l->n || l->s[k] == '\t') {
                comma += (size_t)in_comma;
                point += (size_t)in_point;
                in_comma = in_point = 0;
            } else if (l->s[k] == ',') {
                in_comma = 1;
            } else if (l->s[k] == '.') {
                in_point = 1;
            }
        }
    }
    return comma > point ? ',' : '.';
}

static int mpt_read_data(struct mpt_parser *p, int first, const double *scale,
                         const double *offset)
{
    struct mpt *m = p->m;
    int ncols = m->ncols;
    size_t maxrows = 0;
    for (int i = first; i < p->nlines; i++)
        maxrows += !mpt_blank(&p->lines[i]);
    if (maxrows == 0) {
        mpt_fail(p, first, "no data after the column names (truncated?)");
        return -1;
    }
    /* Rows with fewer cells than names are filled with NAN: memory that the text does not pay
     * for. A readable file has at least two bytes per cell; past that it is not a table. */
    size_t textlen = 0;
    for (int i = first; i < p->nlines; i++)
        textlen += p->lines[i].n + 1;
    if ((double)maxrows * ncols * sizeof(double) > 64e6 + 16.0 * (double)textlen) {
        mpt_fail(p, first + 1, "rows are far shorter than the %d column names (not an EC-Lab "
                 "export?)", ncols);
        return -1;
    }
    for (int c = 0; c < ncols; c++)
        m->cols[c].v = util_calloc(maxrows, sizeof(double));
    m->line = util_calloc(maxrows, sizeof *m->line);
    m->decimal = mpt_decimal(p, first);
    struct mpt_line *cells = util_calloc((size_t)ncols, sizeof *cells);
    int rc = 0;
    for (int i = first; i < p->nlines && rc == 0; i++) {
        const struct mpt_line *l = &p->lines[i];
        if (mpt_blank(l))
            continue;
        int n = mpt_cells(l, cells, ncols);
        if (n < ncols && i == p->nlines - 1 && p->last_open) {
            mpt_warn(m, i + 1, "the last row has %d of %d cells and no line end: cut short, "
                     "left out", n, ncols);
            break;
        }
        if (n < ncols)
            mpt_warn(m, i + 1, "%d cells where the header names %d (the others left empty)",
                     n, ncols);
        else if (n > ncols)
            mpt_warn(m, i + 1, "%d cells where the header names %d (the others ignored)", n,
                     ncols);
        size_t r = m->nrows;
        for (int c = 0; c < ncols; c++) {
            double v = NAN;
            if (c < n) {
                int k = mpt_number(cells[c].s, cells[c].n, m->decimal, &v);
                if (k < 0) {
                    char *cell = mpt_utf8(cells[c].s, cells[c].n < 40 ? cells[c].n : 40);
                    mpt_fail(p, i + 1, "column %d (%s): \"%s%s\" is not a number%s", c + 1,
                             m->cols[c].name, cell, cells[c].n > 40 ? "..." : "",
                             m->decimal == ',' ? " (decimal comma)" : "");
                    free(cell);
                    rc = -1;
                    break;
                }
                if (k > 0)
                    v = v * scale[c] + offset[c];
            }
            m->cols[c].v[r] = v;
        }
        if (rc < 0)
            break;
        m->line[r] = i + 1;
        m->nrows++;
    }
    free(cells);
    if (rc == 0 && m->nrows == 0) {
        mpt_fail(p, first, "no complete data row after the column names (truncated?)");
        rc = -1;
    }
    return rc;
}

int mpt_parse(const char *text, size_t len, const char *file, struct mpt *out, char *err,
              size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    memset(out, 0, sizeof *out);
    out->file = util_strdup(file ? file : "(text)");
    out->decimal = '.';
    struct mpt_parser p = { .file = out->file, .err = err, .errlen = errlen, .m = out };
    double *scale = NULL, *offset = NULL;
    /* strtod reads the locale's decimal mark; the cells are rewritten to '.' first. */
    locale_t cloc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    locale_t old = cloc ? uselocale(cloc) : (locale_t)0;
    int rc = -1;
    if (!text || len == 0) {
        mpt_fail(&p, 0, "empty file");
        goto done;
    }
    if (mpt_split_lines(&p, text, len) < 0)
        goto done;
    if (p.nlines == 0) {
        mpt_fail(&p, 0, "empty file");
        goto done;
    }
    int ci;
    const struct mpt_line *l0 = &p.lines[0];
    if (mpt_starts(l0, MPT_MAGIC)) {
        ci = mpt_find_columns(&p);
        if (ci < 0)
            goto done;
        mpt_read_header(&p, ci);
    } else if (mpt_is_column_line(l0)) {
        ci = 0;     /* exported without the header */
    } else {
        mpt_fail(&p, 1, "not an EC-Lab text export (no \"" MPT_MAGIC "\" line and no "
                 "tab-separated column names)");
        goto done;
    }
    out->column_line = ci + 1;
    if (mpt_read_columns(&p, ci, &scale, &offset) < 0)
        goto done;
    rc = mpt_read_data(&p, ci + 1, scale, offset);
done:
    if (cloc) {
        uselocale(old);
        freelocale(cloc);
    }
    free(scale);
    free(offset);
    free(p.lines);
    if (rc < 0)
        mpt_free(out);
    return rc;
}

void mpt_free(struct mpt *m)
{
    if (!m)
        return;
    for (int c = 0; c < m->ncols; c++) {
        free(m->cols[c].name);
        free(m->cols[c].quantity);
        free(m->cols[c].unit);
        free(m->cols[c].si);
        free(m->cols[c].v);
    }
    free(m->cols);
    free(m->line);
    free(m->file);
    free(m->header);
    free(m->technique);
    free(m->device);
    free(m->channel);
    free(m->start_text);
    for (int i = 0; i < m->nwarn && i < (int)ARRAY_LEN(m->warn); i++)
        free(m->warn[i]);
    memset(m, 0, sizeof *m);
}

int mpt_find(const struct mpt *m, const char *quantity)
{
    for (int c = 0; c < m->ncols; c++)
        if (m->cols[c].quantity && strcmp(m->cols[c].quantity, quantity) == 0)
            return c;
    return -1;
}

int mpt_start_utc(const struct mpt *m, double *utc)
{
    if (!m->has_start)
        return -1;
    struct tm tm = { 0 };
    tm.tm_year = m->start.year - 1900;
    tm.tm_mon = m->start.month - 1;
    tm.tm_mday = m->start.day;
    tm.tm_hour = m->start.hour;
    tm.tm_min = m->start.min;
    tm.tm_isdst = -1;       /* local time, summer time as it was on that day */
    time_t t = mktime(&tm);
    /* mktime moves 02/31 to March: such a date was not valid */
    if (t == (time_t)-1 || tm.tm_mday != m->start.day || tm.tm_mon != m->start.month - 1)
        return -1;
    *utc = (double)t + m->start.sec;
    return 0;
}

/* ---- into a run -------------------------------------------------------------------------- */

static const struct run_field mpt_eis_fields[] = {
    { "freq", "Hz", "frequency of the impedance measurement", RUN_F64, NULL, 0, NULL },
    { "z_real", "ohm", "real part of the impedance Z' = Re(Z)", RUN_F64, NULL, 0, NULL },
    { "z_imag", "ohm", "imaginary part of the impedance Z'' = Im(Z) = -(-Im(Z)) of EC-Lab "
      "(Z = Z' + jZ''; negative for a capacitive cell)", RUN_F64, NULL, 0, NULL },
};

/* Column QUANTITY if it is there in SI unit SI, else NULL. */
static const double *mpt_col(const struct mpt *m, const char *quantity, const char *si)
{
    int c = mpt_find(m, quantity);
    if (c < 0)
        return NULL;
    const struct mpt_column *col = &m->cols[c];
    if (si ? !col->si || strcmp(col->si, si) != 0 : col->unit != NULL)
        return NULL;
    return col->v;
}

/* The first finite value of row I among columns A, B, C (any may be NULL). */
static double mpt_first(const double *a, const double *b, const double *c, size_t i)
{
    if (a && isfinite(a[i]))
        return a[i];
    if (b && isfinite(b[i]))
        return b[i];
    if (c && isfinite(c[i]))
        return c[i];
    return NAN;
}

static int32_t mpt_i32(double v)
{
    if (!isfinite(v) || v < INT32_MIN || v > INT32_MAX)
        return 0;
    return (int32_t)lround(v);
}

int mpt_to_run(const struct mpt *m, struct run *r, size_t *nrec, size_t *nskip, char *err,
               size_t errlen)
{
    *nrec = 0;
    *nskip = 0;
    const double *t = mpt_col(m, "time", "s");
    if (!t) {
        snprintf(err, errlen, "%s: no time/s column", m->file);
        return -1;
    }
    const double *ecell = mpt_col(m, "Ecell", "V"), *ewe = mpt_col(m, "Ewe", "V"),
                 *ewe_avg = mpt_col(m, "<Ewe>", "V");
    const double *cur = mpt_col(m, "I", "A"), *cur_avg = mpt_col(m, "<I>", "A");
    const double *q = mpt_col(m, "(Q-Qo)", "A h"), *dq = mpt_col(m, "dq", "A h");
    const double *qhalf = mpt_col(m, "Q charge/discharge", "A h");
    const double *half = mpt_col(m, "half cycle", NULL), *cycle = mpt_col(m, "cycle number", NULL);
    const double *ns = mpt_col(m, "Ns", NULL);
    const double *freq = mpt_col(m, "freq", "Hz"), *zre = mpt_col(m, "Re(Z)", "ohm");
    const double *zim_neg = mpt_col(m, "-Im(Z)", "ohm"), *zim = mpt_col(m, "Im(Z)", "ohm");
    if (!dq)
        dq = mpt_col(m, "dQ", "A h");
    int eis = freq && zre && (zim_neg || zim);
    if (!ecell && !ewe && !ewe_avg && !cur && !cur_avg && !eis) {
        snprintf(err, errlen, "%s: no voltage (Ewe/V, Ecell/V), current (I/mA) or impedance "
                 "(freq/Hz, Re(Z)/Ohm, -Im(Z)/Ohm) columns", m->file);
        return -1;
    }
    struct run_table *ec = ec_table(r, err, errlen);
    if (!ec)
        return -1;
    struct run_table *et = NULL;
    if (eis) {
        et = run_table_add(r, "eis", "time", mpt_eis_fields, (int)ARRAY_LEN(mpt_eis_fields),
                           err, errlen);
        if (!et)
            return -1;
    }
    if (m->technique)
        run_attr_text(r, NULL, "eclab_technique", m->technique);
    if (m->device)
        run_attr_text(r, NULL, "eclab_device", m->device);
    if (m->channel)
        run_attr_text(r, NULL, "eclab_channel", m->channel);
    if (m->start_text)
        run_attr_text(r, NULL, "eclab_acquisition_started", m->start_text);
    if (m->header)
        run_attr_text(r, NULL, "eclab_header", m->header);
    run_attr_text(r, "ec", "comment", "imported from EC-Lab: positive current oxidises the "
                  "working electrode, which charges the cell when the working electrode is "
                  "the positive one (the Battery Data Format convention)");

    /* Without a half-cycle column, a half cycle is a run of one current sign. Currents
     * below 1e-3 of the largest count as rest, so that noise around zero in an open-circuit
     * step does not start half cycles. */
    double imax = 0;
    for (size_t i = 0; i < m->nrows; i++) {
        double c = mpt_first(cur, cur_avg, NULL, i);
        if (isfinite(c) && fabs(c) > imax)
            imax = fabs(c);
    }
    double irest = imax * 1e-3;

    double qsum = 0, qh = 0, tprev = NAN, qprev = 0;
    int sign = 0;
    int32_t hc = 0;
    int have_prev_half = 0;
    double prev_half = 0;
    for (size_t i = 0; i < m->nrows; i++) {
        double tt = t[i];
        if (!isfinite(tt)) {
            (*nskip)++;
            continue;
        }
        double v = mpt_first(ecell, ewe, ewe_avg, i);
        double c = mpt_first(cur, cur_avg, NULL, i);
        /* charge since the start: the file's, else summed from its dq, else I dt (the
         * current of each sample over the time since the previous one, as EC-Lab does) */
        double charge;
        if (q) {
            charge = q[i];
        } else if (dq) {
            if (isfinite(dq[i]))
                qsum += dq[i];
            charge = qsum;
        } else {
            if (isfinite(tprev) && isfinite(c))
                qsum += c * (tt - tprev) / 3600.0;
            charge = qsum;
        }
        double dcharge = isfinite(charge) && isfinite(qprev) ? charge - qprev : 0;
        if (isfinite(charge))
            qprev = charge;
        tprev = tt;
        /* half cycles */
        int newhalf = 0;
        if (half) {
            if (isfinite(half[i])) {
                newhalf = have_prev_half && half[i] != prev_half;
                prev_half = half[i];
                have_prev_half = 1;
            }
            hc = mpt_i32(prev_half);
        } else if (isfinite(c) && fabs(c) > irest) {
            int s = c > 0 ? 1 : -1;
            if (sign && s != sign) {
                newhalf = 1;
                hc++;
            }
            sign = s;
        }
        if (newhalf)
            qh = 0;
        qh += dcharge;
        union run_value val[EC_NFIELDS];
        val[EC_VOLTAGE].f64 = v;
        val[EC_CURRENT].f64 = c;
        val[EC_CHARGE].f64 = charge;
        val[EC_Q_HALF].f64 = qhalf ? qhalf[i] : qh;
        val[EC_STEP].i32 = ns && isfinite(ns[i]) ? mpt_i32(ns[i] + 1) : 0;
        val[EC_CYCLE].i32 = cycle ? mpt_i32(cycle[i]) : 0;
        val[EC_HALF_CYCLE].i32 = hc;
        if (run_append(ec, tt, val) < 0) {
            snprintf(err, errlen, "%s:%d: the record could not be kept", m->file, m->line[i]);
            return -1;
        }
        (*nrec)++;
        if (et && isfinite(freq[i]) && freq[i] > 0) {
            union run_value z[3];
            z[0].f64 = freq[i];
            z[1].f64 = zre[i];
            z[2].f64 = zim_neg ? -zim_neg[i] : zim[i];
            if (run_append(et, tt, z) < 0) {
                snprintf(err, errlen, "%s:%d: the impedance record could not be kept", m->file,
                         m->line[i]);
                return -1;
            }
        }
    }
    return 0;
}
