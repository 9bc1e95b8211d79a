/* bruker: TopSpin parameter files (JCAMP-DX) and raw data files.
 *
 * The parser works on logical entries: a line starting with "##" starts an entry, the lines
 * that follow (until the next "##") continue it, which covers both arrays and strings broken
 * over lines without a special case.  Everything is bounded (file size, entry count, array
 * length) so that hostile input costs at most a few megabytes and never crashes. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insitu/bruker.h"
#include "insitu/util.h"

/* glibc defines CMPLX only for GCC >= 4.7; clang (the fuzz build) gets this equivalent, which is
 * exact for the finite values used here. */
#ifndef CMPLX
#define CMPLX(x, y) ((double complex)((double)(x) + I * (double)(y)))
#endif

#define JCAMP_MAX_BYTES (16L << 20)    /* real acqus files are a few tens of kB */
#define JCAMP_MAX_ENTRIES 100000
#define JCAMP_MAX_ARRAY 1000000
#define BRUKER_MAX_TD (1L << 28)        /* 2 GB of float64: more is a corrupt header */

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

/* Numbers in parameter files always use '.', whatever locale the program runs in. */
static double strtod_c(const char *s, char **end)
{
    static locale_t c_locale;
    if (!c_locale)
        c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (!c_locale)
        return strtod(s, end);
    return strtod_l(s, end, c_locale);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* Cut a "$$ comment" that follows a value, but not one inside <...>. */
static void cut_comment(char *s)
{
    int in_str = 0;
    for (char *p = s; *p; p++) {
        if (*p == '<')
            in_str = 1;
        else if (*p == '>')
            in_str = 0;
        else if (!in_str && p[0] == '$' && p[1] == '$') {
            *p = '\0';
            return;
        }
    }
}

struct pending {
    struct strbuf key, val;
    int line;
    int active;
};

static int entry_finish(struct jcamp *j, struct pending *pe, const char *file,
                        struct bruker_err *err)
{
    if (!pe->active)
        return 0;
    pe->active = 0;
    if (j->n >= JCAMP_MAX_ENTRIES) {
        err_set(err, "%s:%d: more than %d parameters", file, pe->line, JCAMP_MAX_ENTRIES);
        return -1;
    }
    char *raw = strbuf_take(&pe->val);
    char *key = strbuf_take(&pe->key);
    struct jcamp_entry e = { .key = key, .line = pe->line };
    char *v = trim(raw);
    if (v[0] == '(') {
        /* (0..N) header: N+1 values follow. */
        char *end;
        errno = 0;
        long lo = strtol(v + 1, &end, 10);
        long hi = 0;
        int ok = end != v + 1 && end[0] == '.' && end[1] == '.';
        if (ok) {
            char *s = end + 2;
            hi = strtol(s, &end, 10);
            ok = end != s && *end == ')' && errno == 0 && lo >= 0 && hi >= lo &&
                 hi - lo < JCAMP_MAX_ARRAY;
        }
        if (!ok) {
            err_set(err, "%s:%d: %s: bad array header (expected (0..N), N < %d)", file,
                    pe->line, key, JCAMP_MAX_ARRAY);
            free(raw);
            free(key);
            return -1;
        }
        e.count = (int)(hi - lo + 1);
        v = end + 1;
    }
    v = trim(v);
    size_t n = strlen(v);
    if (v[0] == '<') {
        if (e.count == 0) {
            if (n < 2 || v[n - 1] != '>') {
                err_set(err, "%s:%d: %s: string without its closing '>'", file, pe->line, key);
                free(raw);
                free(key);
                return -1;
            }
            v[n - 1] = '\0';
            v++;
            e.string = 1;
        }
    }
    e.value = util_strdup(v);
    free(raw);
    j->v = util_reallocarray(j->v, (size_t)j->n + 1, sizeof *j->v);
    j->v[j->n++] = e;
    return 0;
}

int bruker_jcamp_parse(const char *text, size_t len, const char *file, struct jcamp *out,
                       struct bruker_err *err)
{
    memset(out, 0, sizeof *out);
    out->file = util_strdup(file ? file : "");
    if (len > (size_t)JCAMP_MAX_BYTES) {
        err_set(err, "%s: %zu bytes: too large for a parameter file", out->file, len);
        bruker_jcamp_free(out);
        return -1;
    }
    struct pending pe = { 0 };
    int lineno = 0, in_string = 0, seen_end = 0;
    size_t pos = 0;
    int rc = 0;
    while (pos < len && rc == 0) {
        size_t eol = pos;
        while (eol < len && text[eol] != '\n')
            eol++;
        lineno++;
        if (memchr(text + pos, '\0', eol - pos)) {
            err_set(err, "%s:%d: NUL byte: not a text parameter file", out->file, lineno);
            rc = -1;
            break;
        }
        char *line = util_strndup(text + pos, eol - pos);
        pos = eol + 1;
        if (seen_end) {
            free(line);
            continue;  /* TopSpin writes nothing after ##END=; ignore anything there */
        }
        if (in_string) {
            /* Inside a <string> continued over lines: take the line verbatim. */
            strbuf_addch(&pe.val, '\n');
            strbuf_addstr(&pe.val, line);
            if (strchr(line, '>'))
                in_string = 0;
        } else if (line[0] == '#' && line[1] == '#') {
            rc = entry_finish(out, &pe, out->file, err);
            if (rc == 0) {
                const char *k = line + 2;
                if (*k == '$')
                    k++;
                const char *eq = strchr(k, '=');
                if (!eq || eq == k) {
                    err_set(err, "%s:%d: '##' line without KEY=", out->file, lineno);
                    rc = -1;
                } else {
                    strbuf_reset(&pe.key);
                    strbuf_add(&pe.key, k, (size_t)(eq - k));
                    char *kt = trim(pe.key.s);
                    memmove(pe.key.s, kt, strlen(kt) + 1);
                    pe.key.len = strlen(pe.key.s);
                    strbuf_reset(&pe.val);
                    /* Only <string> values keep their text as written (they may hold "$$"). */
                    char *v = util_strdup(eq + 1);
                    char *vt = trim(v);
                    if (vt[0] != '<')
                        cut_comment(vt);
                    strbuf_addstr(&pe.val, vt);
                    in_string = vt[0] == '<' && !strchr(vt, '>');
                    free(v);
                    pe.line = lineno;
                    pe.active = 1;
                    if (strcmp(pe.key.s, "END") == 0) {
                        pe.active = 0;
                        seen_end = 1;
                    }
                }
            }
        } else {
            char *t = trim(line);
            if (t[0] == '$' && t[1] == '$') {
                /* comment line */
            } else if (*t) {
                if (!pe.active) {
                    err_set(err, "%s:%d: text outside any ##KEY= entry", out->file, lineno);
                    rc = -1;
                } else {
                    if (t[0] != '<')
                        cut_comment(t);
                    strbuf_addch(&pe.val, ' ');
                    strbuf_addstr(&pe.val, t);
                    if (strchr(t, '<') && !strchr(strrchr(t, '<'), '>'))
                        in_string = 1;
                }
            }
        }
        free(line);
    }
    if (rc == 0 && in_string) {
        err_set(err, "%s:%d: %s: string without its closing '>' at end of file", out->file,
                pe.line, pe.key.s ? pe.key.s : "?");
        rc = -1;
    }
    if (rc == 0)
        rc = entry_finish(out, &pe, out->file, err);
    strbuf_free(&pe.key);
    strbuf_free(&pe.val);
    if (rc == 0 && out->n == 0) {
        err_set(err, "%s:%d: no ##$KEY= parameters: not a JCAMP-DX parameter file", out->file,
                lineno);
        rc = -1;
    }
    if (rc)
        bruker_jcamp_free(out);
    return rc;
}

char *bruker_read_file(const char *path, long max, size_t *len, struct bruker_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        err_set(err, "%s: %s", path, strerror(e));
        errno = e;
        return NULL;
    }
    struct strbuf b = { 0 };
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if ((long)(b.len + n) > max) {
            err_set(err, "%s: larger than %ld bytes: not what TopSpin writes", path, max);
            strbuf_free(&b);
            fclose(f);
            errno = EFBIG;
            return NULL;
        }
        strbuf_add(&b, buf, n);
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        err_set(err, "%s: read error", path);
        strbuf_free(&b);
        errno = EIO;
        return NULL;
    }
    *len = b.len;
    return strbuf_take(&b);
}

int bruker_jcamp_load(const char *path, struct jcamp *out, struct bruker_err *err)
{
    memset(out, 0, sizeof *out);
    size_t len;
    char *text = bruker_read_file(path, JCAMP_MAX_BYTES, &len, err);
    if (!text)
        return -1;
    int rc = bruker_jcamp_parse(text, len, path, out, err);
    free(text);
    return rc;
}

void bruker_jcamp_free(struct jcamp *j)
{
    for (int i = 0; i < j->n; i++) {
        free(j->v[i].key);
        free(j->v[i].value);
    }
    free(j->v);
    free(j->file);
    memset(j, 0, sizeof *j);
}

const struct jcamp_entry *bruker_jcamp_find(const struct jcamp *j, const char *key)
{
    /* Later definitions win, as in TopSpin's own reader. */
    for (int i = j->n - 1; i >= 0; i--)
        if (strcmp(j->v[i].key, key) == 0)
            return &j->v[i];
    return NULL;
}

static const struct jcamp_entry *need(const struct jcamp *j, const char *key,
                                      struct bruker_err *err)
{
    const struct jcamp_entry *e = bruker_jcamp_find(j, key);
    if (!e)
        err_set(err, "%s: missing parameter ##$%s", j->file ? j->file : "", key);
    return e;
}

static int parse_number(const char *s, double *out)
{
    char *end;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s)
        return -1;
    double v = strtod_c(s, &end);
    if (end == s)
        return -1;
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end)
        return -1;
    *out = v;
    return 0;
}

int bruker_jcamp_number(const struct jcamp *j, const char *key, double *out,
                        struct bruker_err *err)
{
    const struct jcamp_entry *e = need(j, key, err);
    if (!e)
        return -1;
    if (e->count || e->string || parse_number(e->value, out) || !isfinite(*out)) {
        err_set(err, "%s:%d: ##$%s: \"%.40s\" is not a number", j->file, e->line, key, e->value);
        return -1;
    }
    return 0;
}

int bruker_jcamp_integer(const struct jcamp *j, const char *key, long *out,
                         struct bruker_err *err)
{
    double v;
    if (bruker_jcamp_number(j, key, &v, err))
        return -1;
    if (v != floor(v) || fabs(v) > (double)LONG_MAX / 2) {
        const struct jcamp_entry *e = bruker_jcamp_find(j, key);
        err_set(err, "%s:%d: ##$%s: %g is not an integer", j->file, e->line, key, v);
        return -1;
    }
    *out = (long)v;
    return 0;
}

int bruker_jcamp_string(const struct jcamp *j, const char *key, const char **out,
                        struct bruker_err *err)
{
    const struct jcamp_entry *e = need(j, key, err);
    if (!e)
        return -1;
    if (!e->string) {
        err_set(err, "%s:%d: ##$%s: not a <string>", j->file, e->line, key);
        return -1;
    }
    *out = e->value;
    return 0;
}

int bruker_jcamp_array_number(const struct jcamp *j, const char *key, int idx, double *out,
                              struct bruker_err *err)
{
    const struct jcamp_entry *e = need(j, key, err);
    if (!e)
        return -1;
    if (!e->count) {
        err_set(err, "%s:%d: ##$%s: not an array", j->file, e->line, key);
        return -1;
    }
    if (idx < 0 || idx >= e->count) {
        err_set(err, "%s:%d: ##$%s: index %d outside 0..%d", j->file, e->line, key, idx,
                e->count - 1);
        return -1;
    }
    const char *p = e->value;
    for (int i = 0;; i++) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (!*p) {
            err_set(err, "%s:%d: ##$%s: %d values given, (0..%d) declared", j->file, e->line,
                    key, i, e->count - 1);
            return -1;
        }
        const char *s = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n')
            p++;
        if (i == idx) {
            char tok[64];
            size_t n = (size_t)(p - s);
            double v;
            if (n >= sizeof tok)
                n = sizeof tok - 1;
            memcpy(tok, s, n);
            tok[n] = '\0';
            if (parse_number(tok, &v) || !isfinite(v)) {
                err_set(err, "%s:%d: ##$%s[%d]: \"%s\" is not a number", j->file, e->line, key,
                        idx, tok);
                return -1;
            }
            *out = v;
            return 0;
        }
    }
}

/* Optional parameters take a default; a present but malformed one is still an error. */
static int opt_number(const struct jcamp *j, const char *key, double def, double *out,
                      struct bruker_err *err)
{
    if (!bruker_jcamp_find(j, key)) {
        *out = def;
        return 0;
    }
    return bruker_jcamp_number(j, key, out, err);
}

static int opt_int(const struct jcamp *j, const char *key, long def, long lo, long hi, int *out,
                   struct bruker_err *err)
{
    long v = def;
    if (bruker_jcamp_find(j, key) && bruker_jcamp_integer(j, key, &v, err))
        return -1;
    if (v < lo || v > hi) {
        const struct jcamp_entry *e = bruker_jcamp_find(j, key);
        err_set(err, "%s:%d: ##$%s: %ld outside %ld..%ld", j->file, e ? e->line : 0, key, v, lo,
                hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int bruker_acqus_get(const struct jcamp *j, struct bruker_acqus *a, struct bruker_err *err)
{
    memset(a, 0, sizeof *a);
    if (bruker_jcamp_integer(j, "TD", &a->td, err) ||
        bruker_jcamp_number(j, "SW_h", &a->sw_h, err))
        return -1;
    const struct jcamp_entry *e = bruker_jcamp_find(j, "TD");
    if (a->td < 2 || a->td > BRUKER_MAX_TD || a->td % 2) {
        err_set(err, "%s:%d: ##$TD: %ld: must be even and within 2..%ld", j->file, e->line,
                a->td, BRUKER_MAX_TD);
        return -1;
    }
    if (!(a->sw_h > 0)) {
        e = bruker_jcamp_find(j, "SW_h");
        err_set(err, "%s:%d: ##$SW_h: %g: must be > 0", j->file, e->line, a->sw_h);
        return -1;
    }
    double ns = 0, grp;
    if (opt_number(j, "SW", 0, &a->sw, err) || opt_number(j, "SFO1", 0, &a->sfo1, err) ||
        opt_number(j, "BF1", 0, &a->bf1, err) || opt_number(j, "O1", 0, &a->o1, err) ||
        opt_int(j, "DIGMOD", 0, 0, 10, &a->digmod, err) ||
        opt_number(j, "GRPDLY", -1, &grp, err) ||
        opt_int(j, "DSPFVS", 0, -1, 1000, &a->dspfvs, err) ||
        opt_number(j, "DECIM", 1, &a->decim, err) ||
        opt_int(j, "DTYPA", 0, 0, 2, &a->dtypa, err) ||
        opt_int(j, "BYTORDA", 0, 0, 1, &a->bytorda, err) || opt_number(j, "NS", 0, &ns, err))
        return -1;
    if (a->dtypa == 1) {
        e = bruker_jcamp_find(j, "DTYPA");
        err_set(err, "%s:%d: ##$DTYPA: 1 (int16?) is not supported; 0 int32 or 2 float64",
                j->file, e->line);
        return -1;
    }
    if (grp > 1e6 || grp < -1) {
        e = bruker_jcamp_find(j, "GRPDLY");
        err_set(err, "%s:%d: ##$GRPDLY: %g is not a group delay", j->file, e->line, grp);
        return -1;
    }
    a->grpdly = grp;
    a->ns = (long)ns;
    return 0;
}

int bruker_procs_get(const struct jcamp *j, struct bruker_procs *p, struct bruker_err *err)
{
    memset(p, 0, sizeof *p);
    double tdeff = 0;
    if (bruker_jcamp_integer(j, "SI", &p->si, err) ||
        bruker_jcamp_number(j, "SF", &p->sf, err) ||
        bruker_jcamp_number(j, "OFFSET", &p->offset, err) ||
        bruker_jcamp_number(j, "SW_p", &p->sw_p, err))
        return -1;
    const struct jcamp_entry *e = bruker_jcamp_find(j, "SI");
    if (p->si < 2 || p->si > BRUKER_MAX_TD) {
        err_set(err, "%s:%d: ##$SI: %ld: must be within 2..%ld", j->file, e->line, p->si,
                BRUKER_MAX_TD);
        return -1;
    }
    if (!(p->sf > 0)) {
        e = bruker_jcamp_find(j, "SF");
        err_set(err, "%s:%d: ##$SF: %g: must be > 0", j->file, e->line, p->sf);
        return -1;
    }
    if (opt_number(j, "TDeff", 0, &tdeff, err) ||
        opt_int(j, "BC_mod", 0, 0, 100, &p->bc_mod, err) ||
        opt_int(j, "WDW", 0, 0, 100, &p->wdw, err) || opt_number(j, "LB", 0, &p->lb, err) ||
        opt_number(j, "GB", 0, &p->gb, err) || opt_number(j, "FCOR", 0.5, &p->fcor, err) ||
        opt_number(j, "PHC0", 0, &p->phc0, err) || opt_number(j, "PHC1", 0, &p->phc1, err) ||
        opt_int(j, "NC_proc", 0, -64, 64, &p->nc_proc, err) ||
        opt_int(j, "BYTORDP", 0, 0, 1, &p->bytordp, err) ||
        opt_int(j, "DTYPP", 0, 0, 2, &p->dtypp, err))
        return -1;
    if (tdeff < 0 || tdeff > BRUKER_MAX_TD) {
        e = bruker_jcamp_find(j, "TDeff");
        err_set(err, "%s:%d: ##$TDeff: %g out of range", j->file, e->line, tdeff);
        return -1;
    }
    p->tdeff = (long)tdeff;
    return 0;
}

/* ---- binary files ---- */

static int32_t get_i32(const unsigned char *b, int big)
{
    uint32_t u = big ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]
                     : (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
    int32_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static double get_f64(const unsigned char *b, int big)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u |= (uint64_t)b[big ? i : 7 - i] << (8 * (7 - i));
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* Read N values of WIDTH bytes starting at value OFFSET of PATH into OUT (doubles). */
static int read_values(const char *path, long offset, long n, int dtype, int big, double *out,
                       struct bruker_err *err)
{
    int width = dtype == 2 ? 8 : 4;
    FILE *f = fopen(path, "rb");
    if (!f) {
        err_set(err, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fseek(f, 0, SEEK_END) != 0) {
        err_set(err, "%s: cannot seek", path);
        fclose(f);
        return -1;
    }
    long size = ftell(f);
    long need_bytes = (offset + n) * width;
    if (size < need_bytes) {
        err_set(err, "%s: %ld bytes, but %ld %s values from value %ld need %ld bytes "
                "(truncated file or wrong TD/SI/DTYP)", path, size, n,
                dtype == 2 ? "float64" : "int32", offset, need_bytes);
        fclose(f);
        return -1;
    }
    if (fseek(f, offset * width, SEEK_SET) != 0) {
        err_set(err, "%s: cannot seek", path);
        fclose(f);
        return -1;
    }
    unsigned char buf[8192];
    long done = 0;
    while (done < n) {
        long chunk = (long)(sizeof buf / (size_t)width);
        if (chunk > n - done)
            chunk = n - done;
        if (fread(buf, (size_t)width, (size_t)chunk, f) != (size_t)chunk) {
            err_set(err, "%s: read error after %ld values", path, done);
            fclose(f);
            return -1;
        }
        for (long i = 0; i < chunk; i++)
            out[done + i] = width == 8 ? get_f64(buf + 8 * i, big) : get_i32(buf + 4 * i, big);
        done += chunk;
    }
    fclose(f);
    return 0;
}

static int read_complex(const char *path, const struct bruker_acqus *a, long offset,
                        double complex *out, struct bruker_err *err)
{
    double *tmp = util_malloc((size_t)a->td * sizeof *tmp);
    int rc = read_values(path, offset, a->td, a->dtypa, a->bytorda == 1, tmp, err);
    if (rc == 0) {
        for (long i = 0; i < a->td / 2; i++) {
            double re = tmp[2 * i], im = tmp[2 * i + 1];
            if (!isfinite(re) || !isfinite(im)) {
                err_set(err, "%s: value %ld is not finite (wrong DTYPA or BYTORDA?)", path,
                        2 * i);
                rc = -1;
                break;
            }
            out[i] = CMPLX(re, im);
        }
    }
    free(tmp);
    return rc;
}

int bruker_read_fid(const char *path, const struct bruker_acqus *a, double complex *out,
                    struct bruker_err *err)
{
    return read_complex(path, a, 0, out, err);
}

int bruker_read_ser_row(const char *path, const struct bruker_acqus *a, long row,
                        double complex *out, struct bruker_err *err)
{
    /* Each FID of a ser file starts on a 1024-byte block: 256 int32 or 128 float64 values. */
    long per_block = a->dtypa == 2 ? 128 : 256;
    long stride = (a->td + per_block - 1) / per_block * per_block;
    if (row < 0 || row > LONG_MAX / 8 / stride - 1) {
        err_set(err, "%s: row %ld out of range", path, row);
        return -1;
    }
    return read_complex(path, a, row * stride, out, err);
}

int bruker_read_pdata(const char *path, const struct bruker_procs *p, double *out,
                      struct bruker_err *err)
{
    if (read_values(path, 0, p->si, p->dtypp, p->bytordp == 1, out, err))
        return -1;
    for (long i = 0; i < p->si; i++)
        out[i] = ldexp(out[i], p->nc_proc);
    return 0;
}

int bruker_read_dataset(const char *dir, struct bruker_dataset *ds, struct bruker_err *err)
{
    memset(ds, 0, sizeof *ds);
    struct jcamp j;
    char *path = util_printf("%s/acqus", dir);
    int rc = bruker_jcamp_load(path, &j, err);
    free(path);
    if (rc)
        return -1;
    rc = bruker_acqus_get(&j, &ds->acq, err);
    bruker_jcamp_free(&j);
    if (rc)
        return -1;
    path = util_printf("%s/pdata/1/procs", dir);
    rc = bruker_jcamp_load(path, &j, err);
    free(path);
    if (rc)
        return -1;
    rc = bruker_procs_get(&j, &ds->proc, err);
    bruker_jcamp_free(&j);
    if (rc)
        return -1;
    ds->npoints = ds->acq.td / 2;
    ds->fid = util_malloc((size_t)ds->npoints * sizeof *ds->fid);
    path = util_printf("%s/fid", dir);
    rc = bruker_read_fid(path, &ds->acq, ds->fid, err);
    free(path);
    if (rc) {
        bruker_dataset_free(ds);
        return -1;
    }
    return 0;
}

void bruker_dataset_free(struct bruker_dataset *ds)
{
    free(ds->fid);
    memset(ds, 0, sizeof *ds);
}
