/* archive: the netCDF-4 / CF-1.8 writer, a run observer with a journal beside the file.
 *
 * Every run event goes to the journal first (one write(2), so it survives the death of the
 * process), then to the netCDF file. The file is nc_sync'ed and the journal fsync'ed at once
 * for array records (spectra: rare and precious) and by archive_sync every few seconds for
 * scalar ones; whatever a crash (or HDF5) does to the file, archive_recover rebuilds it from
 * the journal. */
#include "insitu/archive.h"

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

#include <netcdf.h>

#include "insitu/clock.h"
#include "insitu/journal.h"
#include "internal.h"

/* Records per chunk of a scalar variable: 4 KiB of doubles, few chunks over a 48 h run and
 * little rewritten at each sync. Array variables are chunked one record at a time. */
#define ARCHIVE_CHUNK_RECORDS 512
#define ARCHIVE_DEFLATE 1

struct archive_table {
    int defined;
    int grpid, dimid, timeid;
    int *varids;
    int nfields;
    int has_array;
    size_t nrec;                /* records in the file (the file's index, not the run's) */
    size_t first;               /* the run's index of the file's record 0 (see on_record) */
    size_t *lost;               /* file indexes of records whose RECORD entry failed, */
    size_t nlost;               /* ascending: the journal counts records without them */
};

struct archive {
    struct run *run;
    char *path;                 /* the run's file name for good */
    char *file;                 /* the file being written (PATH, or PATH.recovering) */
    char *jpath;                /* the journal, NULL without one */
    struct journal *journal;
    int ncid;                   /* -1 once closed */
    int ncfd;                   /* a descriptor of FILE for fsync (netCDF keeps its own) */
    const char *state;
    struct strbuf enc;          /* encoded journal entries, reused */
    int dirty;                  /* records not yet nc_sync'ed / fsync'ed */
    char *error;                /* the first write error */
    int ntables;
    struct archive_table *tables;   /* by run table id */
    int ended;
    int have_duration;
    double duration;
};

/* ---- small helpers ----------------------------------------------------------------------- */

static void archive_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void archive_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Remember the first failure only: it is the cause, later ones are consequences. */
static void archive_fail(struct archive *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void archive_fail(struct archive *a, const char *fmt, ...)
{
    if (a->error)
        return;
    va_list ap;
    va_start(ap, fmt);
    a->error = util_vprintf(fmt, ap);
    va_end(ap);
}

static int archive_nc(struct archive *a, int status, const char *what, const char *name)
{
    if (status == NC_NOERR)
        return 0;
    archive_fail(a, "%s: %s%s%s: %s", a->path, what, name && *name ? " " : "", name ? name : "",
                 nc_strerror(status));
    return -1;
}

int archive_fsync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? util_strndup(path, slash == path ? 1 : (size_t)(slash - path))
                      : util_strdup(".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

char *archive_time_units(double utc0)
{
    char iso[32];
    clock_format_utc(utc0, 1, iso, sizeof iso);
    /* Run times count from utc0 itself, not from its whole second: keep the milliseconds in
     * the reference time when there are any (UDUNITS and CF accept them). */
    double ms = floor((utc0 - floor(utc0)) * 1000.0 + 0.5);
    if (ms >= 1.0 && ms < 1000.0) {
        iso[strlen(iso) - 1] = '\0';    /* drop the Z */
        return util_printf("seconds since %s.%03dZ", iso, (int)ms);
    }
    return util_printf("seconds since %s", iso);
}

static int archive_put_text(int ncid, int varid, const char *key, const char *text)
{
    return nc_put_att_text(ncid, varid, key, strlen(text), text);
}

/* The group of a table or attribute, created on first use. */
static int archive_group(struct archive *a, const char *name, int *gid)
{
    if (nc_inq_grp_ncid(a->ncid, name, gid) == NC_NOERR)
        return 0;
    return archive_nc(a, nc_def_grp(a->ncid, name, gid), "cannot create group", name);
}

static struct archive_table *archive_table_slot(struct archive *a, int id)
{
    if (id >= a->ntables) {
        a->tables = util_reallocarray(a->tables, (size_t)id + 1, sizeof *a->tables);
        memset(a->tables + a->ntables, 0, (size_t)(id + 1 - a->ntables) * sizeof *a->tables);
        a->ntables = id + 1;
    }
    return &a->tables[id];
}

static void archive_journal(struct archive *a)
{
    if (!a->journal || !a->enc.len)
        return;
    if (journal_write(a->journal, a->enc.s, a->enc.len) < 0)
        archive_fail(a, "cannot write journal %s: %s", a->jpath, strerror(errno));
    strbuf_reset(&a->enc);
}

/* ---- observer hooks ---------------------------------------------------------------------- */

static void archive_on_attr(void *arg, struct run *r, const struct run_attr *at)
{
    struct archive *a = arg;
    (void)r;
    if (a->journal) {
        journal_encode_attr(&a->enc, at);
        archive_journal(a);
    }
    /* Names beginning with "_" are netCDF's own and "insitu_" ones are the archive's state:
     * such run attributes stay in the journal but cannot replace what the file says. */
    if (at->key[0] == '_' || util_startswith(at->key, "insitu_"))
        return;
    int gid = a->ncid;
    if (at->group && archive_group(a, at->group, &gid) < 0)
        return;
    /* Replacing an attribute by one of another type: netCDF-4 wants it deleted first. */
    nc_type type;
    if (nc_inq_atttype(gid, NC_GLOBAL, at->key, &type) == NC_NOERR &&
        type != (at->num ? NC_DOUBLE : NC_CHAR))
        nc_del_att(gid, NC_GLOBAL, at->key);
    int st = at->num ? nc_put_att_double(gid, NC_GLOBAL, at->key, NC_DOUBLE, at->n, at->num)
                     : archive_put_text(gid, NC_GLOBAL, at->key, at->text ? at->text : "");
    archive_nc(a, st, "cannot write attribute", at->key);
    a->dirty = 1;
}

/* The fixed dimension DIM of LEN points in group GID, defined on first use (by an axis or by
 * the first array field along it). */
static int archive_dim(struct archive *a, int gid, const char *dim, size_t len, int *dimid)
{
    size_t have;
    if (nc_inq_dimid(gid, dim, dimid) == NC_NOERR) {
        if (nc_inq_dimlen(gid, *dimid, &have) == NC_NOERR && have == len)
            return 0;
        archive_fail(a, "%s: dimension %s has %zu points, not %zu", a->path, dim, have, len);
        return -1;
    }
    return archive_nc(a, nc_def_dim(gid, dim, len, dimid), "cannot define dimension", dim);
}

static int archive_flag_attrs(struct archive *a, int gid, int varid, const char *flags)
{
    int n = 0;
    for (const char *p = flags; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        n++;
        while (*p && *p != ' ')
            p++;
    }
    if (!n)
        return 0;
    int *values = util_calloc((size_t)n, sizeof *values);
    for (int i = 0; i < n; i++)
        values[i] = i;
    int st = nc_put_att_int(gid, varid, "flag_values", NC_INT, (size_t)n, values);
    free(values);
    if (st == NC_NOERR)
        st = archive_put_text(gid, varid, "flag_meanings", flags);
    return archive_nc(a, st, "cannot write flags of", "a variable");
}

/* A field defined when its table already has records in the file: those records read as the
 * fill value, which is made the run's missing value (NaN rather than netCDF's 9.97e36). Fields
 * defined with their table have none, so that an int field stays an int for readers that
 * turn variables with a _FillValue into floats (xarray). Strings keep netCDF's "". */
static int archive_def_fill(struct archive *a, int gid, int varid, const struct run_field *f)
{
    int st = NC_NOERR;
    if (f->type == RUN_F64) {
        double fill = RUN_F64_MISSING;
        st = nc_def_var_fill(gid, varid, NC_FILL, &fill);
    } else if (f->type == RUN_I32) {
        int fill = RUN_I32_MISSING;
        st = nc_def_var_fill(gid, varid, NC_FILL, &fill);
    }
    return archive_nc(a, st, "cannot set the fill value of", f->name);
}

static int archive_def_field(struct archive *a, struct archive_table *at, const struct run_field *f,
                             int *varid)
{
    int gid = at->grpid;
    int dims[2] = { at->dimid, -1 };
    int ndims = 1;
    size_t chunk[2] = { ARCHIVE_CHUNK_RECORDS, 0 };
    if (f->dim) {
        if (archive_dim(a, gid, f->dim, f->len, &dims[1]) < 0)
            return -1;
        ndims = 2;
        chunk[0] = 1;
        chunk[1] = f->len;
    }
    nc_type type = f->type == RUN_I32 ? NC_INT : f->type == RUN_STR ? NC_STRING : NC_DOUBLE;
    int st = nc_def_var(gid, f->name, type, ndims, dims, varid);
    if (st == NC_NOERR)
        st = nc_def_var_chunking(gid, *varid, NC_CHUNKED, chunk);
    /* Filters do not apply to variable-length strings. */
    if (st == NC_NOERR && type != NC_STRING)
        st = nc_def_var_deflate(gid, *varid, 1, 1, ARCHIVE_DEFLATE);
    if (st == NC_NOERR)
        st = archive_put_text(gid, *varid, "units", f->units ? f->units : "1");
    if (st == NC_NOERR)
        st = archive_put_text(gid, *varid, "long_name", f->long_name ? f->long_name : f->name);
    if (archive_nc(a, st, "cannot define variable", f->name) < 0)
        return -1;
    if (f->type == RUN_I32 && f->flags && archive_flag_attrs(a, gid, *varid, f->flags) < 0)
        return -1;
    if (at->nrec > 0 && archive_def_fill(a, gid, *varid, f) < 0)
        return -1;
    return 0;
}

static int archive_def_table(struct archive *a, struct run_table *t)
{
    struct archive_table *at = archive_table_slot(a, t->id);
    if (at->defined)
        return 0;
    at->defined = 1;            /* even if it fails below: one message, not one per record */
    at->nfields = t->nfields;
    at->varids = util_calloc((size_t)(t->nfields ? t->nfields : 1), sizeof *at->varids);
    for (int i = 0; i < t->nfields; i++)
        at->varids[i] = -1;
    at->timeid = -1;
    if (archive_group(a, t->group, &at->grpid) < 0)
        return -1;
    int st = nc_def_dim(at->grpid, t->recdim, NC_UNLIMITED, &at->dimid);
    if (archive_nc(a, st, "cannot define record dimension", t->recdim) < 0)
        return -1;
    char *units = archive_time_units(a->run->utc0);
    size_t chunk = ARCHIVE_CHUNK_RECORDS;
    st = nc_def_var(at->grpid, t->recdim, NC_DOUBLE, 1, &at->dimid, &at->timeid);
    if (st == NC_NOERR)
        st = nc_def_var_chunking(at->grpid, at->timeid, NC_CHUNKED, &chunk);
    if (st == NC_NOERR)
        st = nc_def_var_deflate(at->grpid, at->timeid, 1, 1, ARCHIVE_DEFLATE);
    if (st == NC_NOERR)
        st = archive_put_text(at->grpid, at->timeid, "units", units);
    if (st == NC_NOERR)
        st = archive_put_text(at->grpid, at->timeid, "long_name", "time since run start");
    if (st == NC_NOERR)
        st = archive_put_text(at->grpid, at->timeid, "standard_name", "time");
    if (st == NC_NOERR)
        st = archive_put_text(at->grpid, at->timeid, "axis", "T");
    if (st == NC_NOERR)
        st = archive_put_text(at->grpid, at->timeid, "calendar", "standard");
    free(units);
    if (archive_nc(a, st, "cannot define variable", t->recdim) < 0) {
        at->timeid = -1;
        return -1;
    }
    for (int i = 0; i < t->nfields; i++) {
        if (t->fields[i].dim)
            at->has_array = 1;
        if (archive_def_field(a, at, &t->fields[i], &at->varids[i]) < 0)
            at->varids[i] = -1;
    }
    return 0;
}

static void archive_on_table(void *arg, struct run_table *t)
{
    struct archive *a = arg;
    if (a->journal) {
        journal_encode_table(&a->enc, t);
        archive_journal(a);
    }
    archive_def_table(a, t);
    a->dirty = 1;
}

static void archive_on_field(void *arg, struct run_table *t, int field)
{
    struct archive *a = arg;
    if (a->journal) {
        journal_encode_field(&a->enc, t, field);
        archive_journal(a);
    }
    struct archive_table *at = archive_table_slot(a, t->id);
    a->dirty = 1;
    if (!at->defined) {
        archive_def_table(a, t);        /* with all its fields */
        return;
    }
    /* FIELD is the last; every field the file lacks is defined, so that varids stays
     * indexed like the run's fields whatever happened before. */
    int from = at->nfields;
    at->varids = util_reallocarray(at->varids, (size_t)t->nfields, sizeof *at->varids);
    at->nfields = t->nfields;
    for (int i = from; i < t->nfields; i++) {
        at->varids[i] = -1;
        /* netCDF-4 defines variables at any time; a table whose definition failed has had its
         * error already. */
        if (at->timeid < 0)
            continue;
        if (t->fields[i].dim)
            at->has_array = 1;
        if (archive_def_field(a, at, &t->fields[i], &at->varids[i]) < 0)
            at->varids[i] = -1;
    }
}

static void archive_on_axis(void *arg, struct run *r, const struct run_axis *ax)
{
    struct archive *a = arg;
    (void)r;
    if (a->journal) {
        journal_encode_axis(&a->enc, ax);
        archive_journal(a);
    }
    int gid, dimid, varid;
    if (archive_group(a, ax->group, &gid) < 0 || archive_dim(a, gid, ax->dim, ax->len, &dimid) < 0)
        return;
    int st = NC_NOERR;
    if (nc_inq_varid(gid, ax->dim, &varid) != NC_NOERR) {
        st = nc_def_var(gid, ax->dim, NC_DOUBLE, 1, &dimid, &varid);
    } else {
        /* Only the axis' own coordinate variable may be rewritten, not a field of that name. */
        int nd = 0, d = -1;
        if (nc_inq_varndims(gid, varid, &nd) != NC_NOERR || nd != 1 ||
            nc_inq_vardimid(gid, varid, &d) != NC_NOERR || d != dimid) {
            archive_fail(a, "%s: axis %s/%s: a variable of that name is not its coordinate",
                         a->path, ax->group, ax->dim);
            return;
        }
    }
    if (st == NC_NOERR)
        st = archive_put_text(gid, varid, "units", ax->units ? ax->units : "1");
    if (st == NC_NOERR)
        st = archive_put_text(gid, varid, "long_name", ax->long_name ? ax->long_name : ax->dim);
    if (st == NC_NOERR)
        st = nc_put_var_double(gid, varid, ax->values);
    archive_nc(a, st, "cannot write axis", ax->dim);
    a->dirty = 1;
}

static void archive_sync_now(struct archive *a, int fsync_file)
{
    if (a->ncid >= 0)
        archive_nc(a, nc_sync(a->ncid), "cannot sync", "");
    if (fsync_file && a->ncfd >= 0 && fsync(a->ncfd) < 0)
        archive_fail(a, "cannot fsync %s: %s", a->file, strerror(errno));
    if (a->journal && journal_fsync(a->journal) < 0)
        archive_fail(a, "cannot fsync journal %s: %s", a->jpath, strerror(errno));
}

static int archive_on_record(void *arg, struct run_table *t, size_t index, double time,
                             const union run_value *v)
{
    struct archive *a = arg;
    int rc = 0;
    struct archive_table *at = archive_table_slot(a, t->id);
    /* The journal first: it is what makes the record acknowledged. */
    if (a->journal) {
        journal_encode_record(&a->enc, t, time, v);
        int werr = journal_write(a->journal, a->enc.s, a->enc.len);
        strbuf_reset(&a->enc);
        if (werr < 0) {
            archive_fail(a, "cannot write journal %s: %s", a->jpath, strerror(errno));
            rc = -1;
            at->lost = util_reallocarray(at->lost, at->nlost + 1, sizeof *at->lost);
            at->lost[at->nlost++] = at->nrec;
        }
    }
    /* The file index is the archive's own count: a run replayed into a new archive may have
     * dropped old array records from memory (always the oldest), and the file stays dense.
     * Run index = file index + first, which run_update's indexes need. */
    if (at->nrec == 0)
        at->first = index;
    if (!at->defined)
        archive_def_table(a, t);
    size_t start[2] = { at->nrec, 0 };
    size_t count[2] = { 1, 0 };
    if (at->timeid >= 0)
        archive_nc(a, nc_put_vara_double(at->grpid, at->timeid, start, count, &time),
                   "cannot write", t->recdim);
    for (int i = 0; i < t->nfields && i < at->nfields; i++) {
        const struct run_field *f = &t->fields[i];
        int varid = at->varids[i];
        if (varid < 0)
            continue;
        int st;
        if (f->dim) {
            count[1] = f->len;
            st = nc_put_vara_double(at->grpid, varid, start, count, v[i].arr);
        } else if (f->type == RUN_F64) {
            st = nc_put_vara_double(at->grpid, varid, start, count, &v[i].f64);
        } else if (f->type == RUN_I32) {
            int x = v[i].i32;
            st = nc_put_vara_int(at->grpid, varid, start, count, &x);
        } else {
            const char *s = v[i].str ? v[i].str : "";
            st = nc_put_vara_string(at->grpid, varid, start, count, &s);
        }
        archive_nc(a, st, "cannot write", f->name);
    }
    at->nrec++;
    /* Spectra: durable now (journal) and readable now (file). Without a journal (recovery,
     * into a scratch file that is fsync'ed before it replaces anything) there is no point. */
    if (at->has_array && a->journal)
        archive_sync_now(a, 0);
    else
        a->dirty = 1;
    return rc;
}

/* The file index of the run's record INDEX of T, or -1 if the file does not hold it (a
 * record dropped from memory before the archive was created, or an unknown table). */
static long long archive_file_index(const struct archive *a, const struct run_table *t,
                                    size_t index)
{
    if (t->id < 0 || t->id >= a->ntables)
        return -1;
    const struct archive_table *at = &a->tables[t->id];
    if (index < at->first || index - at->first >= at->nrec)
        return -1;
    return (long long)(index - at->first);
}

static int archive_on_update(void *arg, struct run_table *t, size_t index, int field,
                             const union run_value *v)
{
    struct archive *a = arg;
    long long fi = archive_file_index(a, t, index);
    if (fi < 0)
        return 0;               /* nothing in the file to rewrite */
    struct archive_table *at = &a->tables[t->id];
    const struct run_field *f = &t->fields[field];
    int rc = 0;
    if (a->journal) {
        /* The journal counts the records it holds: those whose entry failed are not there,
         * and an update of one of them cannot be told (its record cannot be recovered). */
        size_t ji = (size_t)fi, k = 0;
        while (k < at->nlost && at->lost[k] < (size_t)fi)
            k++;
        if (k < at->nlost && at->lost[k] == (size_t)fi) {
            archive_fail(a, "cannot journal an update of %s/%s record %lld: the record is not "
                         "in the journal", t->group, f->name, fi);
            rc = -1;
        } else {
            journal_encode_update(&a->enc, t, ji - k, field, v);
            int werr = journal_write(a->journal, a->enc.s, a->enc.len);
            strbuf_reset(&a->enc);
            if (werr < 0) {
                archive_fail(a, "cannot write journal %s: %s", a->jpath, strerror(errno));
                rc = -1;
            }
        }
    }
    int varid = field < at->nfields ? at->varids[field] : -1;
    if (varid >= 0) {
        size_t start[2] = { (size_t)fi, 0 }, count[2] = { 1, f->dim ? f->len : 0 };
        int st;
        if (f->dim) {
            st = nc_put_vara_double(at->grpid, varid, start, count, v->arr);
        } else if (f->type == RUN_F64) {
            st = nc_put_var1_double(at->grpid, varid, start, &v->f64);
        } else if (f->type == RUN_I32) {
            int x = v->i32;
            st = nc_put_var1_int(at->grpid, varid, start, &x);
        } else {
            const char *s = v->str ? v->str : "";
            st = nc_put_var1_string(at->grpid, varid, start, &s);
        }
        archive_nc(a, st, "cannot rewrite", f->name);
    }
    /* Durable as records are: an array at once, a scalar at the next archive_sync. */
    if (f->dim && a->journal)
        archive_sync_now(a, 0);
    else
        a->dirty = 1;
    return rc;
}

/* Where the value of FIELD in record INDEX of T is in the file, for reading it back. */
static int archive_locate(struct archive *a, const struct run_table *t, int field, size_t index,
                          int *gid, int *varid, size_t *fi, char *err, size_t errlen)
{
    if (a->ncid < 0) {
        archive_seterr(err, errlen, "%s: the archive is closed", a->path);
        return -1;
    }
    if (field < 0 || field >= t->nfields) {
        archive_seterr(err, errlen, "%s: no field %d in %s/%s", a->path, field, t->group,
                       t->recdim);
        return -1;
    }
    const char *name = t->fields[field].name;
    long long k = archive_file_index(a, t, index);
    if (k < 0) {
        archive_seterr(err, errlen, "%s: %s/%s record %zu is not in the file", a->path,
                       t->group, name, index);
        return -1;
    }
    const struct archive_table *at = &a->tables[t->id];
    if (field >= at->nfields || at->varids[field] < 0) {
        archive_seterr(err, errlen, "%s: %s/%s is not in the file (%s)", a->path, t->group, name,
                       a->error ? a->error : "not defined");
        return -1;
    }
    *gid = at->grpid;
    *varid = at->varids[field];
    *fi = (size_t)k;
    return 0;
}

int archive_read_array(struct archive *a, const struct run_table *t, int field, size_t index,
                       double *out, size_t len, char *err, size_t errlen)
{
    int gid, varid;
    size_t fi;
    if (archive_locate(a, t, field, index, &gid, &varid, &fi, err, errlen) < 0)
        return -1;
    const struct run_field *f = &t->fields[field];
    if (!f->dim || len != f->len) {
        archive_seterr(err, errlen, "%s: %s/%s is %s, not an array of %zu", a->path, t->group,
                       f->name, f->dim ? "an array of another length" : "a scalar", len);
        return -1;
    }
    /* The writer's own handle sees what it wrote, synced or not (HDF5 caches per file, and a
     * second open of the file from this process would be refused while it is written). */
    size_t start[2] = { fi, 0 }, count[2] = { 1, len };
    int st = nc_get_vara_double(gid, varid, start, count, out);
    if (st != NC_NOERR) {
        archive_seterr(err, errlen, "%s: cannot read %s/%s record %zu: %s", a->path, t->group,
                       f->name, index, nc_strerror(st));
        return -1;
    }
    return 0;
}

int archive_read_f64(struct archive *a, const struct run_table *t, int field, size_t index,
                     double *out, char *err, size_t errlen)
{
    int gid, varid;
    size_t fi;
    if (archive_locate(a, t, field, index, &gid, &varid, &fi, err, errlen) < 0)
        return -1;
    const struct run_field *f = &t->fields[field];
    if (f->dim || f->type == RUN_STR) {
        archive_seterr(err, errlen, "%s: %s/%s is not a number", a->path, t->group, f->name);
        return -1;
    }
    int st;
    if (f->type == RUN_I32) {
        int x = 0;
        st = nc_get_var1_int(gid, varid, &fi, &x);
        *out = x == RUN_I32_MISSING ? NAN : (double)x;
    } else {
        st = nc_get_var1_double(gid, varid, &fi, out);
    }
    if (st != NC_NOERR) {
        archive_seterr(err, errlen, "%s: cannot read %s/%s record %zu: %s", a->path, t->group,
                       f->name, index, nc_strerror(st));
        return -1;
    }
    return 0;
}

static void archive_write_end(struct archive *a, const char *reason)
{
    if (a->ncid < 0)
        return;
    double duration = a->have_duration ? a->duration : run_time(a->run);
    /* Run seconds are virtual (clock.speed): the end is stated on the time axis of the file,
     * utc0 + run seconds, which is real time only at speed 1. */
    char iso[32];
    clock_format_utc(a->run->utc0 + duration, 1, iso, sizeof iso);
    int st = archive_put_text(a->ncid, NC_GLOBAL, "insitu_end_reason", reason);
    if (st == NC_NOERR)
        st = nc_put_att_double(a->ncid, NC_GLOBAL, "insitu_duration_s", NC_DOUBLE, 1, &duration);
    if (st == NC_NOERR)
        st = archive_put_text(a->ncid, NC_GLOBAL, "time_coverage_end", iso);
    archive_nc(a, st, "cannot write", "end of run");
    a->ended = 1;
    a->dirty = 1;
}

static void archive_on_end(void *arg, struct run *r, const char *reason)
{
    struct archive *a = arg;
    if (a->journal) {
        double duration = a->have_duration ? a->duration : run_time(r);
        journal_encode_end(&a->enc, reason, duration, clock_utc());
        archive_journal(a);
    }
    archive_write_end(a, reason);
}

/* ---- life cycle -------------------------------------------------------------------------- */

static struct run_observer archive_observer(struct archive *a)
{
    struct run_observer o = {
        .arg = a,
        .attr = archive_on_attr,
        .table = archive_on_table,
        .axis = archive_on_axis,
        .record = archive_on_record,
        .end = archive_on_end,
        .field = archive_on_field,
        .update = archive_on_update,
    };
    return o;
}

static void archive_free(struct archive *a)
{
    for (int i = 0; i < a->ntables; i++) {
        free(a->tables[i].varids);
        free(a->tables[i].lost);
    }
    free(a->tables);
    strbuf_free(&a->enc);
    free(a->error);
    free(a->path);
    free(a->file);
    free(a->jpath);
    free(a);
}

static int archive_globals(struct archive *a, const char *history)
{
    struct run *r = a->run;
    char iso[32];
    clock_format_utc(r->utc0, 1, iso, sizeof iso);
    int g = a->ncid, st = archive_put_text(g, NC_GLOBAL, "Conventions", "CF-1.8");
    if (st == NC_NOERR)
        st = archive_put_text(g, NC_GLOBAL, "title", r->name);
    if (st == NC_NOERR)
        st = archive_put_text(g, NC_GLOBAL, "institution", "");
    if (st == NC_NOERR)
        st = archive_put_text(g, NC_GLOBAL, "source", "insitu " INSITU_VERSION);
    if (st == NC_NOERR)
        st = archive_put_text(g, NC_GLOBAL, "history", history);
    if (st == NC_NOERR)
        st = archive_put_text(g, NC_GLOBAL, "date_created", iso);
    if (st == NC_NOERR)
        st = archive_put_text(g, NC_GLOBAL, "time_coverage_start", iso);
    if (st == NC_NOERR)
        st = archive_put_text(g, NC_GLOBAL, "insitu_run_name", r->name);
    if (st == NC_NOERR)
        st = archive_put_text(g, NC_GLOBAL, "insitu_state", a->state);
    return archive_nc(a, st, "cannot write", "global attributes");
}

struct archive *archive_writer_open(struct run *run, const char *path, const char *file,
                                    const char *jpath, const char *state, const char *history,
                                    char *err, size_t errlen)
{
    struct archive *a = util_calloc(1, sizeof *a);
    a->run = run;
    a->path = util_strdup(path);
    a->file = util_strdup(file);
    a->jpath = jpath ? util_strdup(jpath) : NULL;
    a->state = state;
    a->ncid = -1;
    a->ncfd = -1;

    /* The journal before the file: a crash between the two leaves a journal to recover from,
     * never a file without its evidence. */
    if (jpath) {
        char jerr[512];
        a->journal = journal_create(jpath, jerr, sizeof jerr);
        if (!a->journal) {
            if (errno == EEXIST)
                archive_seterr(err, errlen, "cannot create archive %s: %s exists (a crashed run? "
                               "`archive recover %s`)", path, jpath, path);
            else
                archive_seterr(err, errlen, "cannot create archive %s: %s", path, strerror(errno));
            archive_free(a);
            return NULL;
        }
        char *base = strrchr(path, '/');
        journal_encode_begin(&a->enc, run->name, run->utc0, base ? base + 1 : path);
        archive_journal(a);
        if (a->error) {
            archive_seterr(err, errlen, "cannot create archive %s: %s", path, a->error);
            archive_writer_discard(a);
            return NULL;
        }
    }
    int st = nc_create(file, NC_NETCDF4 | NC_NOCLOBBER, &a->ncid);
    if (st != NC_NOERR) {
        a->ncid = -1;
        archive_seterr(err, errlen, "cannot create archive %s: %s", file,
                       st == NC_EEXIST || st == EEXIST ? "it exists (a run is never overwritten)"
                                                       : nc_strerror(st));
        /* Do not remove a FILE someone else created between our check and nc_create. */
        free(a->file);
        a->file = NULL;
        archive_writer_discard(a);
        return NULL;
    }
    a->ncfd = open(file, O_RDONLY | O_CLOEXEC);
    struct run_observer o = archive_observer(a);
    if (archive_globals(a, history) == 0) {
        run_replay(run, &o);
        archive_sync_now(a, 1);
    }
    if (a->error) {
        /* Errors of the file already begin with its name. */
        const char *e = a->error;
        if (util_startswith(e, path) && e[strlen(path)] == ':')
            e += strlen(path) + 2;
        archive_seterr(err, errlen, "cannot create archive %s: %s", path, e);
        archive_writer_discard(a);
        return NULL;
    }
    run_observe(run, &o);
    a->dirty = 0;
    return a;
}

void archive_writer_discard(struct archive *a)
{
    if (!a)
        return;
    run_unobserve(a->run, a);
    if (a->ncid >= 0)
        nc_close(a->ncid);
    if (a->ncfd >= 0)
        close(a->ncfd);
    if (a->file)
        unlink(a->file);
    if (a->journal) {
        journal_close(a->journal);
        unlink(a->jpath);
    }
    archive_free(a);
}

void archive_writer_set_duration(struct archive *a, double duration)
{
    a->have_duration = 1;
    a->duration = duration;
}

size_t archive_writer_records(const struct archive *a, int table_id)
{
    return table_id >= 0 && table_id < a->ntables ? a->tables[table_id].nrec : 0;
}

int archive_writer_finish(struct archive *a, const char *state, char *err, size_t errlen)
{
    run_unobserve(a->run, a);
    if (!a->ended)
        archive_write_end(a, a->run->ended ? a->run->end_reason : "closed");
    /* A file that missed a write is not complete: it keeps saying "recording" and the
     * journal stays, so that recovery can rebuild it. */
    if (!a->error)
        archive_nc(a, archive_put_text(a->ncid, NC_GLOBAL, "insitu_state", state),
                   "cannot write", "insitu_state");
    archive_nc(a, nc_close(a->ncid), "cannot close", "");
    a->ncid = -1;
    if (a->ncfd >= 0) {
        if (fsync(a->ncfd) < 0)
            archive_fail(a, "cannot fsync %s: %s", a->file, strerror(errno));
        close(a->ncfd);
        a->ncfd = -1;
    }
    if (archive_fsync_parent(a->file) < 0)
        archive_fail(a, "cannot fsync the directory of %s: %s", a->file, strerror(errno));
    if (a->journal) {
        if (journal_fsync(a->journal) < 0)
            archive_fail(a, "cannot fsync journal %s: %s", a->jpath, strerror(errno));
        journal_close(a->journal);
        a->journal = NULL;
    }
    int rc = 0;
    if (a->error) {
        archive_seterr(err, errlen, "%s", a->error);
        rc = -1;
    }
    archive_free(a);
    return rc;
}

/* mkdir -p DIR. The directories it made are appended to MADE (newest last) so that a failure
 * can take them away again. */
static int archive_mkdirs(const char *dir, char ***made, int *nmade, char *err, size_t errlen)
{
    char *p = util_strdup(dir);
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    for (char *s = p + 1;; s++) {
        if (*s && *s != '/')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0777) == 0) {
            *made = util_reallocarray(*made, (size_t)*nmade + 1, sizeof **made);
            (*made)[(*nmade)++] = util_strdup(p);
        } else if (errno != EEXIST) {
            archive_seterr(err, errlen, "cannot create archive directory %s: %s", p,
                           strerror(errno));
            free(p);
            return -1;
        }
        *s = c;
        if (!c)
            break;
    }
    struct stat st;
    int rc = 0;
    int sr = stat(p, &st);
    if (sr < 0 || !S_ISDIR(st.st_mode)) {
        archive_seterr(err, errlen, "cannot create archive directory %s: %s", p,
                       strerror(sr < 0 ? errno : ENOTDIR));
        rc = -1;
    }
    free(p);
    return rc;
}

struct archive *archive_create(struct run *run, const char *dir, char *err, size_t errlen)
{
    if (!util_valid_name(run->name)) {
        archive_seterr(err, errlen, "cannot create archive: invalid run name \"%s\"", run->name);
        return NULL;
    }
    if (!dir || !*dir)
        dir = ".";
    char **made = NULL;
    int nmade = 0;
    struct archive *a = NULL;
    if (archive_mkdirs(dir, &made, &nmade, err, errlen) == 0) {
        char stamp[32], now[32];
        clock_format_utc(run->utc0, 0, stamp, sizeof stamp);
        size_t dl = strlen(dir);
        char *path = util_printf("%s%s%s-%s.nc", dir, dl && dir[dl - 1] == '/' ? "" : "/", stamp,
                                 run->name);
        char *jpath = util_printf("%s.journal", path);
        struct stat st;
        if (lstat(path, &st) == 0) {
            archive_seterr(err, errlen, "cannot create archive %s: it exists (a run is never "
                           "overwritten)", path);
        } else {
            clock_format_utc(clock_utc(), 1, now, sizeof now);
            char *history = util_printf("%s insitu %s: run %s started", now, INSITU_VERSION,
                                        run->name);
            a = archive_writer_open(run, path, path, jpath, ARCHIVE_RECORDING, history, err,
                                    errlen);
            free(history);
            /* The new names must survive a power cut as well as their contents. */
            if (a && archive_fsync_parent(path) < 0) {
                archive_seterr(err, errlen, "cannot create archive %s: %s", path, strerror(errno));
                archive_writer_discard(a);
                a = NULL;
            }
        }
        free(path);
        free(jpath);
    }
    if (!a)
        for (int i = nmade - 1; i >= 0; i--)
            rmdir(made[i]);
    for (int i = 0; i < nmade; i++)
        free(made[i]);
    free(made);
    return a;
}

const char *archive_path(const struct archive *a)
{
    return a->path;
}

int archive_sync(struct archive *a)
{
    if (a->dirty) {
        archive_sync_now(a, 1);
        a->dirty = 0;
    }
    return a->error ? -1 : 0;
}

int archive_dirty(const struct archive *a)
{
    return a->dirty;
}

const char *archive_error(const struct archive *a)
{
    return a->error;
}

int archive_close(struct archive *a, char *err, size_t errlen)
{
    char *jpath = a->jpath ? util_strdup(a->jpath) : NULL;
    char *path = util_strdup(a->path);
    char ferr[1024];
    int rc = archive_writer_finish(a, ARCHIVE_COMPLETE, ferr, sizeof ferr);
    if (rc < 0) {
        archive_seterr(err, errlen, "%s (journal kept: `archive recover %s` rebuilds the file)",
                       ferr, path);
    } else if (jpath) {
        /* The file is complete and on disk: the journal has nothing more to say. */
        if (unlink(jpath) < 0 && errno != ENOENT) {
            archive_seterr(err, errlen, "cannot remove journal %s: %s", jpath, strerror(errno));
            rc = -1;
        } else {
            (void)archive_fsync_parent(path);
        }
    }
    free(jpath);
    free(path);
    return rc;
}

void archive_abandon(struct archive *a)
{
    if (!a)
        return;
    run_unobserve(a->run, a);
    /* As a crash would: the file says "recording" and the journal stays. Closing the handle
     * only lets HDF5 flush and release the file so that the same process can open it again. */
    if (a->ncid >= 0)
        nc_close(a->ncid);
    if (a->ncfd >= 0)
        close(a->ncfd);
    journal_close(a->journal);
    archive_free(a);
}
