/* archive_info and archive_list: read-only summaries of run files, short and grep-friendly. */
#include "insitu/archive.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <netcdf.h>

#include "insitu/journal.h"
#include "internal.h"

/* A text attribute (NC_CHAR or NC_STRING) as a new string, or NULL. */
static char *info_text_att(int ncid, int varid, const char *name)
{
    nc_type type;
    size_t len;
    if (nc_inq_att(ncid, varid, name, &type, &len) != NC_NOERR)
        return NULL;
    if (type == NC_CHAR) {
        char *s = util_malloc(len + 1);
        if (nc_get_att_text(ncid, varid, name, s) != NC_NOERR) {
            free(s);
            return NULL;
        }
        s[len] = '\0';
        return s;
    }
    if (type == NC_STRING && len >= 1) {
        char **v = util_calloc(len, sizeof *v);
        char *s = NULL;
        if (nc_get_att_string(ncid, varid, name, v) == NC_NOERR) {
            s = util_strdup(v[0] ? v[0] : "");
            nc_free_string(len, v);
        }
        free(v);
        return s;
    }
    return NULL;
}

/* Any attribute on one line: text with its line breaks shown as "; ", numbers comma-separated
 * (the first eight). */
static void info_att_value(struct strbuf *out, int ncid, int varid, const char *name)
{
    nc_type type;
    size_t len;
    if (nc_inq_att(ncid, varid, name, &type, &len) != NC_NOERR)
        return;
    if (type == NC_CHAR || type == NC_STRING) {
        char *s = info_text_att(ncid, varid, name);
        for (const char *p = s ? s : ""; *p; p++) {
            if (*p == '\n')
                strbuf_addstr(out, "; ");
            else if (*p != '\r')
                strbuf_addch(out, *p);
        }
        free(s);
        return;
    }
    double *v = util_calloc(len ? len : 1, sizeof *v);
    if (len && nc_get_att_double(ncid, varid, name, v) == NC_NOERR) {
        for (size_t i = 0; i < len && i < 8; i++)
            strbuf_printf(out, "%s%.10g", i ? ", " : "", v[i]);
        if (len > 8)
            strbuf_printf(out, ", ... (%zu values)", len);
    }
    free(v);
}

static size_t info_group_records(int gid)
{
    int n = 0;
    if (nc_inq_unlimdims(gid, &n, NULL) != NC_NOERR || n <= 0)
        return 0;
    int *ids = util_calloc((size_t)n, sizeof *ids);
    size_t total = 0;
    if (nc_inq_unlimdims(gid, &n, ids) == NC_NOERR)
        for (int i = 0; i < n; i++) {
            size_t len;
            if (nc_inq_dimlen(gid, ids[i], &len) == NC_NOERR)
                total += len;
        }
    free(ids);
    return total;
}

/* The top-level groups; *N of them, the array to be freed. */
static int *info_groups(int ncid, int *n)
{
    *n = 0;
    if (nc_inq_grps(ncid, n, NULL) != NC_NOERR || *n <= 0) {
        *n = 0;
        return NULL;
    }
    int *ids = util_calloc((size_t)*n, sizeof *ids);
    if (nc_inq_grps(ncid, n, ids) != NC_NOERR)
        *n = 0;
    return ids;
}

static size_t info_file_records(int ncid)
{
    int n;
    int *ids = info_groups(ncid, &n);
    size_t total = info_group_records(ncid);
    for (int i = 0; i < n; i++)
        total += info_group_records(ids[i]);
    free(ids);
    return total;
}

const char *archive_state_of(const char *path, int ncid)
{
    char *jpath = util_printf("%s.journal", path);
    int locked = journal_locked(jpath);
    free(jpath);
    if (locked > 0)
        return "recording";
    if (ncid < 0)
        return locked == 0 ? "needs recovery" : "unreadable";
    char *state = info_text_att(ncid, NC_GLOBAL, "insitu_state");
    const char *s = "unknown";
    if (!state)
        s = "unknown";
    else if (strcmp(state, ARCHIVE_RECORDING) == 0)
        s = locked == 0 ? "needs recovery" : "incomplete";    /* a crash, or a copy in progress */
    else if (strcmp(state, ARCHIVE_COMPLETE) == 0)
        s = ARCHIVE_COMPLETE;
    else if (strcmp(state, ARCHIVE_RECOVERED) == 0)
        s = ARCHIVE_RECOVERED;
    free(state);
    return s;
}

/* Global attributes info prints on lines of their own, or not at all. */
static int info_known_global(const char *name)
{
    static const char *const known[] = {
        "Conventions", "source", "history", "date_created", "time_coverage_start",
        "time_coverage_end", "insitu_run_name", "insitu_state", "insitu_end_reason",
        "insitu_duration_s",
    };
    for (size_t i = 0; i < ARRAY_LEN(known); i++)
        if (strcmp(name, known[i]) == 0)
            return 1;
    return 0;
}

static void info_variable(struct strbuf *out, int gid, int varid)
{
    char name[NC_MAX_NAME + 1];
    int ndims, dims[NC_MAX_VAR_DIMS];
    if (nc_inq_varname(gid, varid, name) != NC_NOERR ||
        nc_inq_varndims(gid, varid, &ndims) != NC_NOERR || ndims > NC_MAX_VAR_DIMS ||
        nc_inq_vardimid(gid, varid, dims) != NC_NOERR)
        return;
    strbuf_printf(out, "  %s(", name);
    for (int d = 0; d < ndims; d++) {
        char dn[NC_MAX_NAME + 1];
        if (nc_inq_dimname(gid, dims[d], dn) != NC_NOERR)
            strcpy(dn, "?");
        strbuf_printf(out, "%s%s", d ? "," : "", dn);
    }
    char *units = info_text_att(gid, varid, "units");
    char *long_name = info_text_att(gid, varid, "long_name");
    char *flags = info_text_att(gid, varid, "flag_meanings");
    strbuf_printf(out, ") %s \"%s\"", units ? units : "-", long_name ? long_name : "");
    if (flags)
        strbuf_printf(out, " flags: %s", flags);
    strbuf_addch(out, '\n');
    free(units);
    free(long_name);
    free(flags);
}

/* Attributes of a group (or the file) as PREFIX name SEP value lines. */
static void info_attributes(struct strbuf *out, int gid, const char *prefix, const char *sep,
                            int skip_known)
{
    int natts = 0;
    nc_inq_varnatts(gid, NC_GLOBAL, &natts);
    for (int i = 0; i < natts; i++) {
        char name[NC_MAX_NAME + 1];
        if (nc_inq_attname(gid, NC_GLOBAL, i, name) != NC_NOERR)
            continue;
        if (skip_known && info_known_global(name))
            continue;
        struct strbuf v = { 0 };
        info_att_value(&v, gid, NC_GLOBAL, name);
        strbuf_printf(out, "%s%s%s%s\n", prefix, name, sep, v.len ? v.s : "\"\"");
        strbuf_free(&v);
    }
}

static void info_group(struct strbuf *out, int gid)
{
    char name[NC_MAX_NAME + 1];
    if (nc_inq_grpname(gid, name) != NC_NOERR)
        return;
    strbuf_printf(out, "group %s: %zu records\n", name, info_group_records(gid));
    info_attributes(out, gid, "  :", " = ", 0);
    int nvars = 0;
    nc_inq_varids(gid, &nvars, NULL);
    if (nvars <= 0)
        return;
    int *ids = util_calloc((size_t)nvars, sizeof *ids);
    if (nc_inq_varids(gid, &nvars, ids) == NC_NOERR)
        for (int i = 0; i < nvars; i++)
            info_variable(out, gid, ids[i]);
    free(ids);
}

static char *info_journal_path(const char *path)
{
    return util_printf("%s.journal", path);
}

int archive_info(const char *path, struct strbuf *out, char *err, size_t errlen)
{
    int ncid;
    int st = nc_open(path, NC_NOWRITE, &ncid);
    if (st != NC_NOERR) {
        char *jpath = info_journal_path(path);
        int locked = journal_locked(jpath);
        free(jpath);
        struct strbuf e = { 0 };
        strbuf_printf(&e, "%s: cannot open: %s", path, nc_strerror(st));
        if (locked > 0)
            strbuf_addstr(&e, "; a running insitu is recording it");
        else if (locked == 0)
            strbuf_printf(&e, "; a journal exists: run `archive recover %s`", path);
        snprintf(err, errlen, "%s", e.s);
        strbuf_free(&e);
        return -1;
    }
    char *name = info_text_att(ncid, NC_GLOBAL, "insitu_run_name");
    char *started = info_text_att(ncid, NC_GLOBAL, "date_created");
    char *source = info_text_att(ncid, NC_GLOBAL, "source");
    char *reason = info_text_att(ncid, NC_GLOBAL, "insitu_end_reason");
    double duration = 0;
    int have_duration = nc_get_att_double(ncid, NC_GLOBAL, "insitu_duration_s", &duration) ==
                        NC_NOERR;
    strbuf_printf(out, "run: %s (%s)\n", name ? name : "?", archive_state_of(path, ncid));
    strbuf_printf(out, "  file: %s\n", path);
    strbuf_printf(out, "  started: %s\n", started ? started : "?");
    strbuf_printf(out, "  source: %s\n", source ? source : "?");
    if (reason) {
        strbuf_printf(out, "  ended: %s", reason);
        if (have_duration)
            strbuf_printf(out, " after %.1f s", duration);
        strbuf_addch(out, '\n');
    }
    info_attributes(out, ncid, "  ", ": ", 1);
    int n;
    int *groups = info_groups(ncid, &n);
    for (int i = 0; i < n; i++)
        info_group(out, groups[i]);
    free(groups);
    free(name);
    free(started);
    free(source);
    free(reason);
    nc_close(ncid);
    return 0;
}

static int info_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int info_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

/* The run file a directory entry stands for, or NULL: X.nc itself, or X.nc.journal when X.nc
 * is missing (a crash right after the journal was created: still a run to recover). */
static char *info_run_name(const char *dir, const char *name)
{
    if (name[0] == '.')
        return NULL;
    if (info_ends_with(name, ".nc"))
        return util_strdup(name);
    if (!info_ends_with(name, ".nc.journal"))
        return NULL;
    char *nc = util_strndup(name, strlen(name) - strlen(".journal"));
    char *path = util_printf("%s/%s", dir, nc);
    struct stat st;
    int orphan = lstat(path, &st) < 0 && errno == ENOENT;
    free(path);
    if (orphan)
        return nc;
    free(nc);
    return NULL;
}

int archive_list(const char *dir, struct strbuf *out, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) {
            strbuf_printf(out, "(no runs in %s)\n", dir);
            return 0;
        }
        snprintf(err, errlen, "cannot list %s: %s", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char *name = info_run_name(dir, de->d_name);
        if (name) {
            names = util_reallocarray(names, n + 1, sizeof *names);
            names[n++] = name;
        }
    }
    closedir(d);
    if (n == 0)
        strbuf_printf(out, "(no runs in %s)\n", dir);
    if (n)
        qsort(names, n, sizeof *names, info_cmp);
    size_t dl = strlen(dir);
    for (size_t i = 0; i < n; i++) {
        char *path = util_printf("%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", names[i]);
        int ncid = -1;
        if (nc_open(path, NC_NOWRITE, &ncid) != NC_NOERR)
            ncid = -1;
        char *started = ncid >= 0 ? info_text_att(ncid, NC_GLOBAL, "date_created") : NULL;
        char *run = ncid >= 0 ? info_text_att(ncid, NC_GLOBAL, "insitu_run_name") : NULL;
        /* A file that will not open still tells its start and run in its name. */
        const char *nm = names[i];
        if (!started && strlen(nm) > 17 && nm[15] == 'Z' && nm[16] == '-')
            started = util_printf("%.4s-%.2s-%.2sT%.2s:%.2s:%.2sZ", nm, nm + 4, nm + 6, nm + 9,
                                  nm + 11, nm + 13);
        if (!run && strlen(nm) > 17 && nm[16] == '-')
            run = util_strndup(nm + 17, strlen(nm) - 17 - 3);
        char records[32] = "?";
        if (ncid >= 0)
            snprintf(records, sizeof records, "%zu", info_file_records(ncid));
        strbuf_printf(out, "%s  %s  %s  %s records  %s\n", nm, started ? started : "?",
                      run && *run ? run : "?", records, archive_state_of(path, ncid));
        if (ncid >= 0)
            nc_close(ncid);
        free(started);
        free(run);
        free(path);
        free(names[i]);
    }
    free(names);
    return 0;
}
