/* topspin: finished experiments of a TopSpin series, and their acquisition times.
 *
 * See include/insitu/topspin.h for what "finished" means and where the times come from.  The
 * audit trail parser works on the bytes with a cursor (an entry spans lines, its WHAT field
 * too), bounded in file size, entry count and field length, so that any file gives either the
 * acquisition entry or one error naming the file and line. */
#include "insitu/topspin.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "insitu/util.h"

#define AUDIT_MAX_BYTES (4L << 20)     /* a real audita.txt is 1-3 kB */
#define AUDIT_MAX_ENTRIES 100000
#define AUDIT_MAX_FIELDS 16            /* TopSpin writes 7: NUMBER and six <fields> */
#define AUDIT_MAX_FIELD (64L << 10)
#define ACQUS_MAX_BYTES (16L << 20)    /* as bruker.c */
#define TIME_MIN_YEAR 1980             /* older than any TopSpin: a clock or a parser gone wrong */
#define TIME_MAX_YEAR 2199
#define MAX_DURATION (366.0 * 86400)   /* one experiment longer than a year is not believable */
#define EXPNO_MAX_DIGITS 9

static void err_set(struct bruker_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void err_set(struct bruker_err *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

/* A short printable excerpt of untrusted text for an error message: up to the end of the line
 * or the field, control bytes shown as '?'. */
static const char *snip(const char *s, char *buf, size_t n)
{
    size_t k = 0;
    while (k + 1 < n && s[k] && s[k] != '\n' && s[k] != '>') {
        unsigned char c = (unsigned char)s[k];
        buf[k] = c < 0x20 || c == 0x7f ? '?' : (char)c;
        k++;
    }
    buf[k] = '\0';
    return buf;
}

/* ---- times ------------------------------------------------------------------------------- */

static int take_digits(const char *s, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil): pure
 * arithmetic, so the result never depends on TZ or on the range of time_t. */
static long days_from_civil(long y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153L * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dm[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

int topspin_time_parse(const char *s, double *t, const char **end, struct bruker_err *err)
{
    char ex[48];
    int y, mo, d, h, mi, se;
    /* The || chain stops at the first mismatch, so no byte past the terminator is read. */
    if (take_digits(s, 4, &y) || s[4] != '-' || take_digits(s + 5, 2, &mo) || s[7] != '-' ||
        take_digits(s + 8, 2, &d) || (s[10] != ' ' && s[10] != 'T') ||
        take_digits(s + 11, 2, &h) || s[13] != ':' || take_digits(s + 14, 2, &mi) ||
        s[16] != ':' || take_digits(s + 17, 2, &se)) {
        err_set(err, "\"%s\": not a time YYYY-MM-DD hh:mm:ss", snip(s, ex, 24));
        return -1;
    }
    if (y < TIME_MIN_YEAR || y > TIME_MAX_YEAR || mo < 1 || mo > 12 || d < 1 ||
        d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 60) {
        err_set(err, "\"%s\": no such date and time (years %d..%d)", snip(s, ex, 24),
                TIME_MIN_YEAR, TIME_MAX_YEAR);
        return -1;
    }
    const char *p = s + 19;
    double frac = 0;
    if (*p == '.') {
        p++;
        double scale = 0.1;
        int nd = 0;
        while (*p >= '0' && *p <= '9') {
            if (++nd > 9) {
                err_set(err, "\"%s\": more than 9 digits of fraction", snip(s, ex, 40));
                return -1;
            }
            frac += (*p - '0') * scale;
            scale /= 10;
            p++;
        }
        if (nd == 0) {
            err_set(err, "\"%s\": '.' without digits", snip(s, ex, 40));
            return -1;
        }
    }
    while (*p == ' ')
        p++;
    long off = 0;  /* seconds east of UTC */
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        int sign = *p == '-' ? -1 : 1;
        p++;
        if (take_digits(p, 2, &oh)) {
            err_set(err, "\"%s\": bad time zone offset (+hhmm)", snip(s, ex, 40));
            return -1;
        }
        p += 2;
        if (*p == ':')
            p++;
        if (take_digits(p, 2, &om) || oh > 14 || om > 59) {
            err_set(err, "\"%s\": bad time zone offset (+hhmm)", snip(s, ex, 40));
            return -1;
        }
        p += 2;
        off = sign * (oh * 3600L + om * 60L);
    } else {
        err_set(err, "\"%s\": no time zone offset (+hhmm): the time cannot be placed",
                snip(s, ex, 40));
        return -1;
    }
    double secs = (double)days_from_civil(y, mo, d) * 86400.0 + h * 3600.0 + mi * 60.0 + se;
    *t = secs - (double)off + frac;
    if (end)
        *end = p;
    return 0;
}

/* ---- bounded files ----------------------------------------------------------------------- */

/* ---- audit trail ------------------------------------------------------------------------- */

struct cursor {
    const char *s;
    size_t len, pos;
    int line;
};

static int cur_at(const struct cursor *c, const char *lit)
{
    size_t n = strlen(lit);
    return c->len - c->pos >= n && memcmp(c->s + c->pos, lit, n) == 0;
}

static void cur_skip_ws(struct cursor *c)
{
    while (c->pos < c->len) {
        char ch = c->s[c->pos];
        if (ch == '\n')
            c->line++;
        else if (ch != ' ' && ch != '\t' && ch != '\r')
            break;
        c->pos++;
    }
}

static void cur_skip_line(struct cursor *c)
{
    while (c->pos < c->len && c->s[c->pos] != '\n')
        c->pos++;
}

struct field {
    size_t off, len;
    int line;
};

enum { KIND_OTHER, KIND_ACQ, KIND_PROGRESS };

/* The last acquisition-related entry seen. */
struct acq_entry {
    int kind;
    long number;
    int line;
    char *when, *what;
    int what_line;
};

static char *field_dup(const struct cursor *c, const struct field *f)
{
    return util_strndup(c->s + f->off, f->len);
}

/* "created by zg", "created by go", "created by qu" (TopSpin's acquisition commands) or any
 * WHAT with "started at": the acquisition entry.  TopSpin 4 adds "on data set with UUID ...". */
static int what_kind(const char *what)
{
    while (*what == ' ' || *what == '\t' || *what == '\n' || *what == '\r')
        what++;
    if (util_startswith(what, "acquisition in progress"))
        return KIND_PROGRESS;
    if (strstr(what, "started at"))
        return KIND_ACQ;
    if (util_startswith(what, "created by ")) {
        const char *cmd = what + strlen("created by ");
        if (util_startswith(cmd, "zg") || util_startswith(cmd, "go") ||
            util_startswith(cmd, "qu"))
            return KIND_ACQ;
    }
    return KIND_OTHER;
}

/* One "(NUMBER,<f1>,<f2>,...)" entry at C (on its '('). */
static int parse_entry(struct cursor *c, const char *file, struct acq_entry *last,
                       struct bruker_err *err)
{
    char ex[48];
    int line = c->line;
    c->pos++;  /* '(' */
    cur_skip_ws(c);
    long number = 0;
    int nd = 0;
    while (c->pos < c->len && c->s[c->pos] >= '0' && c->s[c->pos] <= '9') {
        if (++nd > 9) {
            err_set(err, "%s:%d: entry NUMBER longer than 9 digits", file, line);
            return -1;
        }
        number = number * 10 + (c->s[c->pos] - '0');
        c->pos++;
    }
    if (nd == 0) {
        err_set(err, "%s:%d: entry without a NUMBER after '('", file, line);
        return -1;
    }
    cur_skip_ws(c);
    if (c->pos >= c->len || c->s[c->pos] != ',') {
        err_set(err, "%s:%d: entry %ld: ',' expected after the NUMBER", file, c->line, number);
        return -1;
    }
    c->pos++;
    struct field f[AUDIT_MAX_FIELDS];
    int nf = 0;
    for (;;) {
        cur_skip_ws(c);
        if (c->pos >= c->len) {
            err_set(err, "%s:%d: entry %ld: the file ends inside the entry (truncated?)", file,
                    line, number);
            return -1;
        }
        if (c->s[c->pos] != '<') {
            err_set(err, "%s:%d: entry %ld: field %d: '<' expected, found \"%s\"", file,
                    c->line, number, nf + 2, snip(c->s + c->pos, ex, 24));
            return -1;
        }
        if (nf == AUDIT_MAX_FIELDS) {
            err_set(err, "%s:%d: entry %ld: more than %d fields", file, line, number,
                    AUDIT_MAX_FIELDS);
            return -1;
        }
        f[nf].off = ++c->pos;
        f[nf].line = c->line;
        /* The field ends at a '>' followed (after blanks) by ',' or ')': a '>' inside the text
         * TopSpin wrote does not end it. */
        int closed = 0;
        while (c->pos < c->len) {
            char ch = c->s[c->pos];
            if (ch == '>') {
                size_t q = c->pos + 1;
                while (q < c->len && (c->s[q] == ' ' || c->s[q] == '\t' || c->s[q] == '\r' ||
                                      c->s[q] == '\n'))
                    q++;
                if (q < c->len && (c->s[q] == ',' || c->s[q] == ')')) {
                    closed = 1;
                    break;
                }
            }
            if (ch == '\n')
                c->line++;
            c->pos++;
            if (c->pos - f[nf].off > (size_t)AUDIT_MAX_FIELD) {
                err_set(err, "%s:%d: entry %ld: field %d longer than %ld bytes", file,
                        f[nf].line, number, nf + 2, AUDIT_MAX_FIELD);
                return -1;
            }
        }
        if (!closed) {
            err_set(err, "%s:%d: entry %ld: field %d: no closing '>' before the end of the "
                    "file (truncated?)", file, f[nf].line, number, nf + 2);
            return -1;
        }
        f[nf].len = c->pos - f[nf].off;
        nf++;
        c->pos++;  /* '>' */
        cur_skip_ws(c);
        if (c->s[c->pos] == ')') {  /* in bounds: the field closed only before ',' or ')' */
            c->pos++;
            break;
        }
        c->pos++;  /* ',' */
    }
    if (nf < 2) {
        err_set(err, "%s:%d: entry %ld: %d field%s: WHEN and WHAT at least are needed", file,
                line, number, nf, nf == 1 ? "" : "s");
        return -1;
    }
    char *what = field_dup(c, &f[nf - 1]);
    int kind = what_kind(what);
    if (kind == KIND_OTHER) {
        free(what);
        return 0;
    }
    free(last->when);
    free(last->what);
    last->kind = kind;
    last->number = number;
    last->line = line;
    last->when = field_dup(c, &f[0]);
    last->what = what;
    last->what_line = f[nf - 1].line;
    return 0;
}

/* "KEY <time>" inside WHAT: 0 found and parsed, 1 absent, -1 malformed (ERR says why). */
static int what_time(const struct acq_entry *e, const char *key, const char *file, double *t,
                     struct bruker_err *err)
{
    const char *p = strstr(e->what, key);
    if (!p)
        return 1;
    int line = e->what_line;
    for (const char *q = e->what; q < p; q++)
        line += *q == '\n';
    p += strlen(key);
    while (*p == ' ' || *p == '\t')
        p++;
    struct bruker_err te;
    const char *end;
    if (topspin_time_parse(p, t, &end, &te)) {
        err_set(err, "%s:%d: entry %ld: %s: %s", file, line, e->number, key, te.msg);
        return -1;
    }
    return 0;
}

/* 0 with OUT; -1 error; -2 "acquisition in progress" is the last word (also an error). */
static int audit_parse(const char *text, size_t len, const char *file, struct topspin_audit *out,
                       struct bruker_err *err)
{
    char ex[48];
    memset(out, 0, sizeof *out);
    out->start = NAN;
    if (len > (size_t)AUDIT_MAX_BYTES) {
        err_set(err, "%s: %zu bytes: too large for an audit trail", file, len);
        return -1;
    }
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        int line = 1;
        for (const char *q = text; q < nul; q++)
            line += *q == '\n';
        err_set(err, "%s:%d: NUL byte: not a text audit trail", file, line);
        return -1;
    }
    /* The text is NUL-free, so a terminated copy lets the field parsers use string functions
     * and look one byte ahead safely. */
    char *copy = util_strndup(text, len);
    struct cursor c = { copy, len, 0, 1 };
    struct acq_entry last = { 0 };
    int header = 0, ended = 0, entries = 0, rc = 0;
    while (c.pos < c.len && !ended) {
        while (c.pos < c.len && (c.s[c.pos] == ' ' || c.s[c.pos] == '\t' || c.s[c.pos] == '\r'))
            c.pos++;
        if (c.pos >= c.len)
            break;
        char ch = c.s[c.pos];
        if (ch == '\n') {
            c.pos++;
            c.line++;
        } else if (cur_at(&c, "##END=")) {
            ended = 1;
        } else if (cur_at(&c, "##AUDIT TRAIL=")) {
            header = 1;
            cur_skip_line(&c);
        } else if (cur_at(&c, "##") || cur_at(&c, "$$")) {
            cur_skip_line(&c);  /* ##TITLE=, ##JCAMPDX=, ##ORIGIN=, ##OWNER=, comments */
        } else if (ch == '(') {
            if (!header) {
                err_set(err, "%s:%d: entry before ##AUDIT TRAIL=", file, c.line);
                rc = -1;
                break;
            }
            if (++entries > AUDIT_MAX_ENTRIES) {
                err_set(err, "%s:%d: more than %d entries", file, c.line, AUDIT_MAX_ENTRIES);
                rc = -1;
                break;
            }
            if (parse_entry(&c, file, &last, err)) {
                rc = -1;
                break;
            }
        } else {
            err_set(err, "%s:%d: \"%s\": neither ##KEY=, $$ comment nor (entry)", file, c.line,
                    snip(c.s + c.pos, ex, 32));
            rc = -1;
            break;
        }
    }
    if (rc == 0 && !header) {
        err_set(err, "%s: no ##AUDIT TRAIL=: not a TopSpin audit trail", file);
        rc = -1;
    } else if (rc == 0 && !ended) {
        err_set(err, "%s:%d: no ##END=: the file is cut short (still being written?)", file,
                c.line);
        rc = -1;
    } else if (rc == 0 && last.kind == 0) {
        err_set(err, "%s: no acquisition entry (\"created by zg ... started at ...\") in %d "
                "entr%s", file, entries, entries == 1 ? "y" : "ies");
        rc = -1;
    } else if (rc == 0 && last.kind == KIND_PROGRESS) {
        err_set(err, "%s:%d: entry %ld: acquisition in progress (or aborted)", file, last.line,
                last.number);
        rc = -2;
    }
    if (rc == 0) {
        struct bruker_err te;
        double start = NAN, end = NAN, done = NAN;
        if (topspin_time_parse(last.when, &end, NULL, &te)) {
            err_set(err, "%s:%d: entry %ld: WHEN: %s", file, last.line, last.number, te.msg);
            rc = -1;
        } else if (what_time(&last, "completed at", file, &done, err) < 0 ||
                   what_time(&last, "started at", file, &start, err) < 0) {
            rc = -1;
        }
        /* TopSpin 4 writes "completed at" in WHAT; WHEN, written just after, is the end
         * otherwise. */
        if (rc == 0 && !isnan(done))
            end = done;
        if (rc) {
            /* ERR is set */
        } else if (!isnan(start) && start > end) {
            err_set(err, "%s:%d: entry %ld: started at %.3f, after its end %.3f", file,
                    last.line, last.number, start, end);
            rc = -1;
        } else if (!isnan(start) && end - start > MAX_DURATION) {
            err_set(err, "%s:%d: entry %ld: %.0f days between start and end: not one "
                    "acquisition", file, last.line, last.number, (end - start) / 86400);
            rc = -1;
        } else {
            out->start = start;
            out->end = end;
            out->number = last.number;
            out->line = last.line;
        }
    }
    free(last.when);
    free(last.what);
    free(copy);
    return rc;
}

int topspin_audit_parse(const char *text, size_t len, const char *file, struct topspin_audit *out,
                        struct bruker_err *err)
{
    return audit_parse(text, len, file ? file : "audita.txt", out, err) ? -1 : 0;
}

/* ---- acqus ------------------------------------------------------------------------------- */

struct acq_file {
    struct jcamp j;
    char *path;
    int stamp_state;        /* 0 none, 1 parsed, -1 malformed (stamp_err) */
    double stamp;
    struct bruker_err stamp_err;
};

static void acq_file_free(struct acq_file *a)
{
    bruker_jcamp_free(&a->j);
    free(a->path);
    memset(a, 0, sizeof *a);
}

/* The time stamp comment TopSpin writes at the head of acqus when it saves it
 * ("$$ 2012-06-02 07:41:55.890 -0500  user@host"), before the first ##$ parameter. */
static void find_stamp(const char *text, size_t len, struct acq_file *a)
{
    size_t pos = 0;
    int line = 0;
    while (pos < len) {
        size_t eol = pos;
        while (eol < len && text[eol] != '\n')
            eol++;
        line++;
        if (eol - pos >= 3 && memcmp(text + pos, "##$", 3) == 0)
            return;
        if (eol - pos > 3 && memcmp(text + pos, "$$ ", 3) == 0 && text[pos + 3] >= '0' &&
            text[pos + 3] <= '9') {
            char *l = util_strndup(text + pos + 3, eol - pos - 3);
            struct bruker_err te;
            if (topspin_time_parse(l, &a->stamp, NULL, &te) == 0) {
                a->stamp_state = 1;
            } else {
                a->stamp_state = -1;
                err_set(&a->stamp_err, "%s:%d: time stamp comment: %s", a->path, line, te.msg);
            }
            free(l);
            return;
        }
        pos = eol + 1;
    }
}

static int acq_load(const char *expdir, struct acq_file *a, struct bruker_err *err)
{
    memset(a, 0, sizeof *a);
    a->path = util_printf("%s/acqus", expdir);
    size_t len;
    char *text = bruker_read_file(a->path, ACQUS_MAX_BYTES, &len, err);
    if (!text) {
        acq_file_free(a);
        return -1;
    }
    int rc = bruker_jcamp_parse(text, len, a->path, &a->j, err);
    if (rc == 0)
        find_stamp(text, len, a);
    free(text);
    if (rc) {
        free(a->path);
        a->path = NULL;
    }
    return rc;
}

/* (NS + DS) * (D1 + AQ): the scans, each a recycle delay and an acquisition.  Approximate. */
static int acq_duration(const struct acq_file *a, double *dur, struct bruker_err *err)
{
    struct bruker_acqus p;
    if (bruker_acqus_get(&a->j, &p, err))
        return -1;
    long ds = 0;
    double d1 = 0;
    if (bruker_jcamp_find(&a->j, "DS") && bruker_jcamp_integer(&a->j, "DS", &ds, err))
        return -1;
    if (bruker_jcamp_find(&a->j, "D") && bruker_jcamp_array_number(&a->j, "D", 1, &d1, err))
        return -1;
    double ns = p.ns < 1 ? 1 : (double)p.ns;
    if (ds < 0 || ds > 1000000L || ns > 1e8 || d1 < 0 || d1 > 1e6) {
        err_set(err, "%s: NS %ld, DS %ld, D1 %g s: not a duration", a->j.file, p.ns, ds, d1);
        return -1;
    }
    double t = (ns + (double)ds) * (d1 + (double)p.td / (2 * p.sw_h));
    if (!(t >= 0 && t <= MAX_DURATION)) {
        err_set(err, "%s: estimated duration %.3g s is not one acquisition", a->j.file, t);
        return -1;
    }
    *dur = t;
    return 0;
}

/* End of acquisition from acqus: ##$DATE=, else the time stamp comment. */
static int acq_end(const struct acq_file *a, double *end, int *src, struct bruker_err *err)
{
    const struct jcamp_entry *e = bruker_jcamp_find(&a->j, "DATE");
    if (e) {
        long date;
        if (bruker_jcamp_integer(&a->j, "DATE", &date, err))
            return -1;
        /* 0 is "never set" (parameter sets copied from templates), not 1970. */
        if (date != 0) {
            double lo = (double)days_from_civil(TIME_MIN_YEAR, 1, 1) * 86400;
            double hi = (double)days_from_civil(TIME_MAX_YEAR + 1, 1, 1) * 86400;
            if ((double)date < lo || (double)date >= hi) {
                err_set(err, "%s:%d: ##$DATE= %ld: not a time in %d..%d", a->j.file, e->line,
                        date, TIME_MIN_YEAR, TIME_MAX_YEAR);
                return -1;
            }
            *end = (double)date;
            *src = TOPSPIN_TIME_ACQUS_DATE;
            return 0;
        }
    }
    if (a->stamp_state == 1) {
        *end = a->stamp;
        *src = TOPSPIN_TIME_ACQUS_STAMP;
        return 0;
    }
    if (a->stamp_state == -1) {
        *err = a->stamp_err;
        return -1;
    }
    err_set(err, "%s: no acquisition time: no audita.txt, no ##$DATE=, no \"$$ date\" comment",
            a->j.file);
    return -1;
}

/* The times of EXPDIR, given its audit trail (AUDIT, or NULL when there is no audita.txt) and
 * its acqus (A, loaded here on demand when NULL). */
static int times_from(const char *expdir, const struct topspin_audit *audit,
                      const struct acq_file *a, double *start, double *end, int *src,
                      struct bruker_err *err)
{
    if (audit && !isnan(audit->start)) {
        *start = audit->start;
        *end = audit->end;
        *src = TOPSPIN_TIME_AUDIT;
        return 0;
    }
    struct acq_file own;
    if (!a) {
        if (acq_load(expdir, &own, err))
            return -1;
        a = &own;
    }
    double e, dur;
    int s, rc = 0;
    if (audit) {
        e = audit->end;
        s = TOPSPIN_TIME_AUDIT_END;
    } else {
        rc = acq_end(a, &e, &s, err);
    }
    if (rc == 0)
        rc = acq_duration(a, &dur, err);
    if (rc == 0) {
        *start = e - dur;
        *end = e;
        *src = s;
    }
    if (a == &own)
        acq_file_free(&own);
    return rc;
}

/* 0 parsed; 1 no audita.txt; -1 error; -2 acquisition in progress. */
static int audit_load(const char *expdir, struct topspin_audit *audit, struct bruker_err *err)
{
    char *path = util_printf("%s/audita.txt", expdir);
    size_t len;
    char *text = bruker_read_file(path, AUDIT_MAX_BYTES, &len, err);
    int rc;
    if (!text)
        rc = errno == ENOENT ? 1 : -1;
    else
        rc = audit_parse(text, len, path, audit, err);
    free(text);
    free(path);
    return rc;
}

int topspin_times_source(const char *expdir, double *start, double *end, int *src,
                         struct bruker_err *err)
{
    struct topspin_audit audit;
    int rc = audit_load(expdir, &audit, err);
    if (rc < 0)
        return -1;
    return times_from(expdir, rc == 0 ? &audit : NULL, NULL, start, end, src, err);
}

int topspin_times(const char *expdir, double *start, double *end, struct bruker_err *err)
{
    int src;
    return topspin_times_source(expdir, start, end, &src, err);
}

/* ---- the series -------------------------------------------------------------------------- */

struct cand {
    long expno;
    char name[EXPNO_MAX_DIGITS + 1];
    int has_fid;
    double mtime;
    long later;  /* the next EXPNO with a fid, 0 if none */
};

static int cand_cmp(const void *a, const void *b)
{
    long x = ((const struct cand *)a)->expno, y = ((const struct cand *)b)->expno;
    return (x > y) - (x < y);
}

/* A canonical decimal EXPNO: "0" or [1-9][0-9]{0,8}; "007", "1a", "+1" are not. */
static int expno_parse(const char *name, long *out)
{
    size_t n = strlen(name);
    if (n == 0 || n > EXPNO_MAX_DIGITS || (name[0] == '0' && n > 1))
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        v = v * 10 + (name[i] - '0');
    }
    *out = v;
    return 0;
}

static double st_mtime_of(const struct stat *st)
{
    return (double)st->st_mtim.tv_sec + st->st_mtim.tv_nsec * 1e-9;
}

static void exp_fail(struct topspin_exp *x, const struct bruker_err *e)
{
    x->complete = 0;
    x->error = util_strdup(e->msg);
}

/* Decide on one candidate: 0 leave it out (not finished yet), 1 put X in the list. */
static int scan_one(const char *dir, const struct cand *c, double settle, double now,
                    struct topspin_exp *x, struct bruker_err *scratch)
{
    char *expdir = util_printf("%s/%s", dir, c->name);
    struct topspin_audit audit;
    struct bruker_err audit_err;
    int arc = audit_load(expdir, &audit, &audit_err);
    int settled = settle >= 0 && c->mtime <= now - settle;
    int by = arc == 0 ? TOPSPIN_BY_AUDIT : c->later ? TOPSPIN_BY_LATER
                                                    : settled ? TOPSPIN_BY_SETTLE : 0;
    if (arc == -1 && by == TOPSPIN_BY_SETTLE) {
        /* An audit trail that does not parse may be one being written: wait until it, too, has
         * been left alone for SETTLE seconds. */
        char *ap = util_printf("%s/audita.txt", expdir);
        struct stat st;
        if (stat(ap, &st) == 0 && st_mtime_of(&st) > now - settle)
            by = 0;
        free(ap);
    }
    /* "acquisition in progress" outranks the quiet fid: only an acquisition that has moved on
     * proves that this one ended (aborted, then). */
    if (arc == -2 && by != TOPSPIN_BY_LATER)
        by = 0;
    if (!by) {
        free(expdir);
        return 0;
    }
    memset(x, 0, sizeof *x);
    x->expno = c->expno;
    x->dir = expdir;
    x->finished_by = by;
    x->start = x->end = NAN;

    struct acq_file a;
    struct bruker_acqus p;
    if (acq_load(expdir, &a, scratch)) {
        exp_fail(x, scratch);
        return 1;
    }
    if (bruker_acqus_get(&a.j, &p, scratch)) {
        exp_fail(x, scratch);
        acq_file_free(&a);
        return 1;
    }
    x->td = p.td;
    x->dtypa = p.dtypa;

    /* Size from open + fstat: open() makes an NFS client revalidate its cached attributes. */
    char *fid = util_printf("%s/fid", expdir);
    int fd = open(fid, O_RDONLY | O_CLOEXEC);
    struct stat st;
    int ok = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (fd >= 0)
        close(fd);
    if (!ok) {  /* gone or replaced since the readdir: look again next time */
        free(fid);
        acq_file_free(&a);
        free(x->dir);
        return 0;
    }
    x->fid_bytes = (long)st.st_size;
    long need = p.td * (p.dtypa == 2 ? 8 : 4);
    if (x->fid_bytes < need) {
        if (!c->later) {  /* still being written (or its size not yet visible here) */
            free(fid);
            acq_file_free(&a);
            free(x->dir);
            return 0;
        }
        err_set(scratch, "%s: %ld bytes, TD %ld %s values need %ld: cut short, and expno %ld "
                "has been acquired since", fid, x->fid_bytes, p.td,
                p.dtypa == 2 ? "float64" : "int32", need, c->later);
        exp_fail(x, scratch);
        free(fid);
        acq_file_free(&a);
        return 1;
    }
    free(fid);

    if (arc < 0) {
        exp_fail(x, &audit_err);
    } else if (times_from(expdir, arc == 0 ? &audit : NULL, &a, &x->start, &x->end,
                          &x->time_src, scratch)) {
        exp_fail(x, scratch);
    } else {
        x->complete = 1;
    }
    acq_file_free(&a);
    return 1;
}

int topspin_scan(const char *dir, long after, double settle, double now, struct topspin_exp **out,
                 int *n, struct bruker_err *err)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        err_set(err, "%s: %s", dir, strerror(errno));
        return -1;
    }
    struct cand *c = NULL;
    size_t nc = 0, cap = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d))) {
        long e;
        if (expno_parse(de->d_name, &e) || e <= after)
            continue;
        if (nc == cap) {
            cap = cap ? 2 * cap : 16;
            c = util_reallocarray(c, cap, sizeof *c);
        }
        memset(&c[nc], 0, sizeof c[nc]);
        c[nc].expno = e;
        util_strlcpy(c[nc].name, de->d_name, sizeof c[nc].name);
        nc++;
        errno = 0;
    }
    int rerr = errno;
    closedir(d);
    if (rerr) {
        err_set(err, "%s: %s", dir, strerror(rerr));
        free(c);
        return -1;
    }
    if (nc == 0) {
        free(c);
        return 0;
    }
    qsort(c, nc, sizeof *c, cand_cmp);
    /* From the top down: which EXPNOs have a fid, and the next one above each that has. */
    long later = 0;
    for (size_t i = nc; i-- > 0;) {
        char *fid = util_printf("%s/%s/fid", dir, c[i].name);
        struct stat st;
        if (stat(fid, &st) == 0 && S_ISREG(st.st_mode)) {
            c[i].has_fid = 1;
            c[i].mtime = st_mtime_of(&st);
        }
        free(fid);
        c[i].later = later;
        if (c[i].has_fid)
            later = c[i].expno;
    }
    struct topspin_exp *v = NULL;
    int nv = 0;
    struct bruker_err scratch;
    for (size_t i = 0; i < nc; i++) {
        if (!c[i].has_fid)
            continue;
        struct topspin_exp x;
        if (scan_one(dir, &c[i], settle, now, &x, &scratch)) {
            v = util_reallocarray(v, (size_t)nv + 1, sizeof *v);
            v[nv++] = x;
        }
    }
    free(c);
    *out = v;
    *n = nv;
    return 0;
}

void topspin_exps_free(struct topspin_exp *v, int n)
{
    if (!v)
        return;
    for (int i = 0; i < n; i++) {
        free(v[i].dir);
        free(v[i].error);
    }
    free(v);
}
