/* bdf: the ec group of a run file as Battery Data Format CSV (Battery Data Alliance), the table
 * that battery analysis tools read without knowing insitu: one row per ec record,
 *
 *   Test Time / s, Voltage / V, Current / A            required by BDF
 *   Unix Time / s, Cycle Count / 1, Step Count / 1     recommended
 *   Net Capacity / Ah, Charging Capacity / Ah, Discharging Capacity / Ah
 *
 * read with the netCDF-C API, so that it works on any run file (live, complete or recovered)
 * and on files other programs wrote in the same layout. Units are converted to the BDF ones
 * whatever the file says, since BDF fixes them. */
#include "insitu/ecfile.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <netcdf.h>

#include "insitu/clock.h"
#include "insitu/units.h"

/* One variable of the ec group, read whole as doubles (NAN where nothing was written). */
struct bdf_var {
    const char *name;
    const char *unit;       /* the BDF unit wanted, NULL for a count */
    double *v;              /* NULL when the file has no such variable */
};

static void bdf_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void bdf_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* A text attribute as a new string, or NULL. */
static char *bdf_text_att(int gid, int varid, const char *name)
{
    nc_type type;
    size_t len;
    if (nc_inq_att(gid, varid, name, &type, &len) != NC_NOERR)
        return NULL;
    if (type == NC_CHAR) {
        char *s = util_malloc(len + 1);
        if (nc_get_att_text(gid, varid, name, s) != NC_NOERR) {
            free(s);
            return NULL;
        }
        s[len] = '\0';
        return s;
    }
    if (type == NC_STRING && len == 1) {
        char *v = NULL, *s = NULL;
        if (nc_get_att_string(gid, varid, name, &v) == NC_NOERR && v)
            s = util_strdup(v);
        if (v)
            nc_free_string(1, &v);
        return s;
    }
    return NULL;
}

/* Fill values mark records never written (a run that crashed between variables). */
static int bdf_is_fill(nc_type type, const void *fill, double v)
{
    switch (type) {
    case NC_DOUBLE: return v == *(const double *)fill;
    case NC_FLOAT: return (float)v == *(const float *)fill;
    case NC_INT: return v == (double)*(const int *)fill;
    case NC_SHORT: return v == (double)*(const short *)fill;
    default: return 0;
    }
}

/* Read variable NAME (1-D along the record dimension DIMID, N records) into *OUT, converted
 * from its units attribute to UNIT (when UNIT is not NULL). Returns 0, 1 when the file has no
 * such variable, -1 with err set. */
static int bdf_read(int gid, int dimid, size_t n, const char *path, const char *name,
                    const char *unit, double **out, char *err, size_t errlen)
{
    *out = NULL;
    int varid, ndims, dims[NC_MAX_VAR_DIMS];
    nc_type type;
    if (nc_inq_varid(gid, name, &varid) != NC_NOERR)
        return 1;
    if (nc_inq_var(gid, varid, NULL, &type, &ndims, dims, NULL) != NC_NOERR || ndims != 1 ||
        dims[0] != dimid || type == NC_STRING || type == NC_CHAR) {
        bdf_seterr(err, errlen, "%s: ec/%s is not one number per record", path, name);
        return -1;
    }
    double scale = 1, offset = 0;
    char *u = unit ? bdf_text_att(gid, varid, "units") : NULL;
    if (u && strcmp(u, unit) != 0) {
        double f0, f1;
        if (units_convert(0.0, u, unit, &f0) < 0 || units_convert(1.0, u, unit, &f1) < 0) {
            bdf_seterr(err, errlen, "%s: ec/%s is in \"%s\", which is not %s", path, name, u,
                       unit);
            free(u);
            return -1;
        }
        scale = f1 - f0;
        offset = f0;
    }
    free(u);
    double *v = util_calloc(n ? n : 1, sizeof *v);
    int st = n ? nc_get_var_double(gid, varid, v) : NC_NOERR;
    if (st != NC_NOERR && st != NC_ERANGE) {
        bdf_seterr(err, errlen, "%s: cannot read ec/%s: %s", path, name, nc_strerror(st));
        free(v);
        return -1;
    }
    union {
        double d;
        float f;
        int i;
        short s;
    } fill;
    int no_fill = 1;
    if (nc_inq_var_fill(gid, varid, &no_fill, &fill) != NC_NOERR)
        no_fill = 1;
    for (size_t i = 0; i < n; i++) {
        if (!no_fill && bdf_is_fill(type, &fill, v[i]))
            v[i] = NAN;
        else
            v[i] = v[i] * scale + offset;
    }
    *out = v;
    return 0;
}

/* The origin of "UNIT since ORIGIN" as Unix time and the factor from UNIT to seconds.
 * Returns 0, or -1 when the units say no such thing. */
static int bdf_time_origin(const char *units, double *origin, double *to_s)
{
    const char *since = units ? strstr(units, " since ") : NULL;
    if (!since)
        return -1;
    char *unit = util_strndup(units, (size_t)(since - units));
    double f0, f1;
    int ok = units_convert(0.0, unit, "s", &f0) == 0 && units_convert(1.0, unit, "s", &f1) == 0;
    free(unit);
    if (!ok)
        return -1;
    *to_s = f1 - f0;
    /* ISO 8601 as insitu writes it; "2026-11-24 23:30:38" (UDUNITS' own form) too */
    char buf[64];
    const char *iso = since + strlen(" since ");
    while (*iso == ' ')
        iso++;
    util_strlcpy(buf, iso, sizeof buf);
    if (clock_parse_utc(buf, origin) == 0)
        return 0;
    if (strlen(buf) > 10 && buf[10] == ' ') {
        buf[10] = 'T';
        if (clock_parse_utc(buf, origin) == 0)
            return 0;
    }
    return -1;
}

static void bdf_num(FILE *out, double v)
{
    if (isfinite(v))
        fprintf(out, "%.10g", v);
}

enum { BDF_TIME, BDF_VOLTAGE, BDF_CURRENT, BDF_CYCLE, BDF_STEP, BDF_CHARGE, BDF_HALF, BDF_NVARS };

static int bdf_write(const char *path, int gid, FILE *out, size_t *nrows, char *err,
                     size_t errlen)
{
    struct bdf_var var[BDF_NVARS] = {
        [BDF_TIME] = { "time", "s", NULL },
        [BDF_VOLTAGE] = { "voltage", "V", NULL },
        [BDF_CURRENT] = { "current", "A", NULL },
        [BDF_CYCLE] = { "cycle", NULL, NULL },
        [BDF_STEP] = { "step", NULL, NULL },
        [BDF_CHARGE] = { "charge", "A h", NULL },
        [BDF_HALF] = { "half_cycle", NULL, NULL },
    };
    int tid, dimid, ndims;
    if (nc_inq_varid(gid, "time", &tid) != NC_NOERR ||
        nc_inq_varndims(gid, tid, &ndims) != NC_NOERR || ndims != 1 ||
        nc_inq_vardimid(gid, tid, &dimid) != NC_NOERR) {
        bdf_seterr(err, errlen, "%s: the ec group has no time variable", path);
        return -1;
    }
    size_t n = 0;
    nc_inq_dimlen(gid, dimid, &n);
    /* The time axis: its origin gives Unix Time; its unit need not be seconds. */
    char *tunits = bdf_text_att(gid, tid, "units");
    double origin = 0, to_s = 1;
    int have_unix = bdf_time_origin(tunits, &origin, &to_s) == 0;
    free(tunits);
    int rc = 0;
    for (int k = 0; k < BDF_NVARS && rc == 0; k++) {
        /* time is converted with the factor found above, not by its units string */
        int r = bdf_read(gid, dimid, n, path, var[k].name, k == BDF_TIME ? NULL : var[k].unit,
                         &var[k].v, err, errlen);
        if (r < 0)
            rc = -1;
        else if (r > 0 && k <= BDF_CURRENT) {
            bdf_seterr(err, errlen, "%s: the ec group has no %s (Battery Data Format needs "
                       "time, voltage and current)", path, var[k].name);
            rc = -1;
        }
    }
    if (rc == 0) {
        const double *t = var[BDF_TIME].v, *cur = var[BDF_CURRENT].v;
        const double *q = var[BDF_CHARGE].v, *half = var[BDF_HALF].v;
        fputs("Test Time / s,Voltage / V,Current / A", out);
        if (have_unix)
            fputs(",Unix Time / s", out);
        if (var[BDF_CYCLE].v)
            fputs(",Cycle Count / 1", out);
        if (var[BDF_STEP].v)
            fputs(",Step Count / 1", out);
        if (q)
            fputs(",Net Capacity / Ah", out);
        fputs(",Charging Capacity / Ah,Discharging Capacity / Ah\n", out);
        /* Charging and discharging capacity restart at each half cycle (the file's half_cycle,
         * else a change of the current's sign; currents below 1e-3 of the largest are rest)
         * and take the charge passed while the current has their sign: the differences of
         * the charge variable where it has values, else I dt. Note: the BDF ontology since 1.3 defines these two
         * as never resetting over the test; this is the per-half-cycle reading that EC-Lab's
         * Q charge/discharge gives. */
        double imax = 0;
        for (size_t i = 0; i < n; i++)
            if (isfinite(cur[i]) && fabs(cur[i]) > imax)
                imax = fabs(cur[i]);
        double irest = imax * 1e-3, chg = 0, dis = 0, qprev = NAN, tprev = NAN, hprev = NAN;
        int sign = 0;
        for (size_t i = 0; i < n; i++) {
            double ts = t[i] * to_s;
            double c = cur[i];
            double dq = 0;
            if (q && isfinite(q[i]) && isfinite(qprev))
                dq = q[i] - qprev;
            else if (isfinite(c) && isfinite(ts) && isfinite(tprev))
                dq = c * (ts - tprev) / 3600.0;     /* no charge (or a gap in it) */
            qprev = q ? q[i] : NAN;
            if (isfinite(ts))
                tprev = ts;
            int newhalf = 0;
            if (half) {
                if (isfinite(half[i])) {
                    newhalf = isfinite(hprev) && half[i] != hprev;
                    hprev = half[i];
                }
            } else if (isfinite(c) && fabs(c) > irest) {
                int s = c > 0 ? 1 : -1;
                newhalf = sign && s != sign;
                sign = s;
            }
            if (newhalf)
                chg = dis = 0;
            if (isfinite(c) && c > 0)
                chg += fabs(dq);
            else if (isfinite(c) && c < 0)
                dis += fabs(dq);
            bdf_num(out, ts);
            fputc(',', out);
            bdf_num(out, var[BDF_VOLTAGE].v[i]);
            fputc(',', out);
            bdf_num(out, c);
            if (have_unix) {
                fputc(',', out);
                /* milliseconds: %.10g would round a Unix time to whole seconds */
                if (isfinite(ts))
                    fprintf(out, "%.3f", origin + ts);
            }
            for (int k = BDF_CYCLE; k <= BDF_CHARGE; k++) {
                if (!var[k].v)
                    continue;
                fputc(',', out);
                bdf_num(out, var[k].v[i]);
            }
            fputc(',', out);
            bdf_num(out, chg);
            fputc(',', out);
            bdf_num(out, dis);
            fputc('\n', out);
        }
        *nrows = n;
    }
    for (int k = 0; k < BDF_NVARS; k++)
        free(var[k].v);
    return rc;
}

int bdf_export(const char *ncpath, FILE *out, size_t *nrows, char *err, size_t errlen)
{
    *nrows = 0;
    int ncid, gid;
    int st = nc_open(ncpath, NC_NOWRITE, &ncid);
    if (st != NC_NOERR) {
        bdf_seterr(err, errlen, "%s: cannot open: %s", ncpath, nc_strerror(st));
        return -1;
    }
    int rc;
    if (nc_inq_grp_ncid(ncid, "ec", &gid) != NC_NOERR) {
        bdf_seterr(err, errlen, "%s: no ec group (the run recorded no cell voltage and "
                   "current)", ncpath);
        rc = -1;
    } else {
        /* BDF numbers have a '.', whatever LC_NUMERIC the user runs insitu with. */
        locale_t cloc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
        locale_t old = cloc ? uselocale(cloc) : (locale_t)0;
        rc = bdf_write(ncpath, gid, out, nrows, err, errlen);
        if (cloc) {
            uselocale(old);
            freelocale(cloc);
        }
    }
    nc_close(ncid);
    if (rc == 0 && (fflush(out) != 0 || ferror(out))) {
        bdf_seterr(err, errlen, "cannot write: %s", strerror(errno));
        rc = -1;
    }
    return rc;
}

/* Is A the same file as B (both existing)? */
static int bdf_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

int bdf_export_file(const char *ncpath, const char *outpath, int force, size_t *nrows,
                    char *err, size_t errlen)
{
    *nrows = 0;
    if (bdf_same_file(ncpath, outpath)) {
        bdf_seterr(err, errlen, "%s is the run file itself", outpath);
        return -1;
    }
    /* Without -f the file is created exclusively, so nothing that exists is touched; with -f
     * a temporary file replaces the old one only once it is complete. */
    char *tmp = NULL;
    int fd;
    if (force) {
        tmp = util_printf("%s.XXXXXX", outpath);
        fd = mkstemp(tmp);
        if (fd >= 0) {
            mode_t mask = umask(0);
            umask(mask);
            (void)fchmod(fd, 0666 & ~mask);
        }
    } else {
        fd = open(outpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    }
    if (fd < 0) {
        if (errno == EEXIST)
            bdf_seterr(err, errlen, "%s exists (-f replaces it)", outpath);
        else
            bdf_seterr(err, errlen, "cannot create %s: %s", outpath, strerror(errno));
        free(tmp);
        return -1;
    }
    const char *file = tmp ? tmp : outpath;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        bdf_seterr(err, errlen, "cannot write %s: %s", outpath, strerror(errno));
        close(fd);
        unlink(file);
        free(tmp);
        return -1;
    }
    char werr[600];
    int rc = bdf_export(ncpath, f, nrows, werr, sizeof werr);
    if (rc < 0)
        bdf_seterr(err, errlen, "%s", werr);
    if (rc == 0 && fsync(fileno(f)) < 0) {
        bdf_seterr(err, errlen, "cannot write %s: %s", outpath, strerror(errno));
        rc = -1;
    }
    if (fclose(f) != 0 && rc == 0) {
        bdf_seterr(err, errlen, "cannot write %s: %s", outpath, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && tmp && rename(tmp, outpath) < 0) {
        bdf_seterr(err, errlen, "cannot replace %s: %s", outpath, strerror(errno));
        rc = -1;
    }
    if (rc < 0)
        unlink(file);
    free(tmp);
    return rc;
}
