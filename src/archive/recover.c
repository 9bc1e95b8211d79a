/* archive_recover: rebuild a run file from its journal.
 *
 * The journal is replayed into a fresh run in memory that a new writer observes from the
 * start, so each record goes to the new file as it is appended (the run keeps only the newest
 * array records in memory), and each added field and update reaches the file in the order the
 * run made them. The new file is written as PATH.recovering, closed and fsync'ed, and
 * only then renamed over PATH; the original, if any, is kept as PATH.damaged. */
#include "insitu/archive.h"

#include <errno.h>
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

/* Table ids in a run are small indexes; a larger one in a journal is not worth a huge map. */
#define RECOVER_MAX_TABLES 65536

struct recover {
    const char *path;
    const char *jpath;
    const char *tmp;
    struct run *run;
    struct archive *w;
    struct run_table **map;     /* journal table id -> table of the rebuilt run */
    size_t nmap;
    union run_value *vals;
    size_t nvals;
    size_t rejected;            /* good entries that could not be applied */
    double last_time;
    int ended;
    char err[1024];             /* a fatal error, stops the replay */
};

static void recover_fatal(struct recover *rc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void recover_fatal(struct recover *rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rc->err, sizeof rc->err, fmt, ap);
    va_end(ap);
}

static int recover_begin(struct recover *rc, const struct journal_entry *e)
{
    if (!util_valid_name(e->begin.name) || !isfinite(e->begin.utc0)) {
        recover_fatal(rc, "cannot recover %s: the journal names no valid run", rc->path);
        return 1;
    }
    rc->run = run_new(e->begin.name, e->begin.utc0, 0.0);
    char started[32], now[32];
    clock_format_utc(e->begin.utc0, 1, started, sizeof started);
    clock_format_utc(clock_utc(), 1, now, sizeof now);
    char *history = util_printf("%s insitu %s: run %s started\n%s insitu %s: recovered from %s",
                                started, INSITU_VERSION, e->begin.name, now, INSITU_VERSION,
                                rc->jpath);
    /* A stale PATH.recovering is an earlier recovery that did not finish: nothing to keep. */
    unlink(rc->tmp);
    rc->w = archive_writer_open(rc->run, rc->path, rc->tmp, NULL, ARCHIVE_RECORDING, history,
                                rc->err, sizeof rc->err);
    free(history);
    return rc->w ? 0 : 1;
}

static int recover_table(struct recover *rc, const struct journal_entry *e)
{
    if (e->table.id >= RECOVER_MAX_TABLES)
        return -1;
    struct run_table *t = run_table_add(rc->run, e->table.group, e->table.recdim, e->table.fields,
                                        e->table.nfields, NULL, 0);
    if (!t)
        return -1;
    if (e->table.id >= rc->nmap) {
        rc->map = util_reallocarray(rc->map, (size_t)e->table.id + 1, sizeof *rc->map);
        memset(rc->map + rc->nmap, 0, ((size_t)e->table.id + 1 - rc->nmap) * sizeof *rc->map);
        rc->nmap = (size_t)e->table.id + 1;
    }
    rc->map[e->table.id] = t;
    return 0;
}

static struct run_table *recover_map(const struct recover *rc, uint32_t id)
{
    return id < rc->nmap ? rc->map[id] : NULL;
}

/* V is a value of field F: the journal's tag and length agree with the run's definition. */
static int recover_fits(const struct run_field *f, const struct journal_value *v)
{
    enum journal_tag want = f->dim ? JOURNAL_TAG_ARR
                          : f->type == RUN_F64 ? JOURNAL_TAG_F64
                          : f->type == RUN_I32 ? JOURNAL_TAG_I32 : JOURNAL_TAG_STR;
    return v->tag == want && (!f->dim || v->len == f->len);
}

/* A record is applied only if it fits its table exactly: a journal whose CRCs are right can
 * still come from another version or a bug, and run_append trusts its input. */
static int recover_record(struct recover *rc, const struct journal_entry *e)
{
    struct run_table *t = recover_map(rc, e->record.id);
    if (!t || e->record.nvalues != t->nfields || !isfinite(e->record.time))
        return -1;
    if ((size_t)t->nfields > rc->nvals) {
        rc->vals = util_reallocarray(rc->vals, (size_t)t->nfields, sizeof *rc->vals);
        rc->nvals = (size_t)t->nfields;
    }
    for (int i = 0; i < t->nfields; i++) {
        const struct journal_value *v = &e->record.values[i];
        if (!recover_fits(&t->fields[i], v))
            return -1;
        rc->vals[i] = v->v;
    }
    if (e->record.time > rc->last_time)
        rc->last_time = e->record.time;
    run_append(t, e->record.time, rc->vals);    /* a write error shows in the writer */
    return 0;
}

/* A field added to a table that may hold records: they get the missing value, as they did
 * in the run. */
static int recover_field(struct recover *rc, const struct journal_entry *e)
{
    struct run_table *t = recover_map(rc, e->field.id);
    return t ? run_field_add(t, &e->field.def, NULL, 0) : -1;
}

/* The journal's index of an update is that of the table's records in the journal, which are
 * the rebuilt run's (and file's) indexes. */
static int recover_update(struct recover *rc, const struct journal_entry *e)
{
    struct run_table *t = recover_map(rc, e->update.id);
    if (!t || e->update.index >= t->nrec || e->update.field >= (uint32_t)t->nfields ||
        !recover_fits(&t->fields[e->update.field], &e->update.value))
        return -1;
    run_update(t, (size_t)e->update.index, (int)e->update.field, &e->update.value.v);
    return 0;                   /* a write error shows in the writer */
}

static int recover_entry(void *arg, const struct journal_entry *e)
{
    struct recover *rc = arg;
    if (!rc->run) {
        if (e->type != JOURNAL_BEGIN) {
            recover_fatal(rc, "cannot recover %s: the journal does not begin with the run",
                          rc->path);
            return 1;
        }
        return recover_begin(rc, e);
    }
    int bad = 0;
    switch (e->type) {
    case JOURNAL_BEGIN:
        bad = -1;               /* one run per journal */
        break;
    case JOURNAL_ATTR:
        bad = e->attr.num ? run_attr_num(rc->run, e->attr.group, e->attr.key, e->attr.num, e->attr.n)
                          : run_attr_text(rc->run, e->attr.group, e->attr.key, e->attr.text);
        break;
    case JOURNAL_TABLE:
        bad = recover_table(rc, e);
        break;
    case JOURNAL_AXIS:
        bad = run_axis_set(rc->run, e->axis.group, e->axis.dim, e->axis.len, e->axis.units,
                           e->axis.long_name, e->axis.values);
        break;
    case JOURNAL_RECORD:
        bad = recover_record(rc, e);
        break;
    case JOURNAL_FIELD:
        bad = recover_field(rc, e);
        break;
    case JOURNAL_UPDATE:
        bad = recover_update(rc, e);
        break;
    case JOURNAL_END:
        if (rc->ended) {
            bad = -1;
            break;
        }
        archive_writer_set_duration(rc->w, e->end.duration);
        run_end(rc->run, e->end.reason);
        rc->ended = 1;
        break;
    }
    if (bad)
        rc->rejected++;
    return 0;
}

static int recover_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* PATH.damaged, or PATH.damaged.N when an earlier recovery already left one. */
static char *recover_damaged_name(const char *path)
{
    char *name = util_printf("%s.damaged", path);
    for (int i = 1; recover_exists(name) && i < 1000; i++) {
        free(name);
        name = util_printf("%s.damaged.%d", path, i);
    }
    return name;
}

int archive_recover(const char *path, char *msg, size_t msglen)
{
    char *jpath = util_printf("%s.journal", path);
    char *tmp = util_printf("%s.recovering", path);
    struct recover rc = { .path = path, .jpath = jpath, .tmp = tmp, .last_time = 0.0 };
    struct journal_scan scan;
    int result = -1;
    char *damaged = NULL;

    int locked = journal_locked(jpath);
    if (locked < 0) {
        int ncid;
        int opens = nc_open(path, NC_NOWRITE, &ncid) == NC_NOERR;
        if (opens)
            nc_close(ncid);
        snprintf(msg, msglen, "no journal beside %s: nothing to recover from%s", path,
                 opens ? " (the file opens: it needs no recovery)" : "");
        goto out;
    }
    if (locked > 0) {
        snprintf(msg, msglen, "cannot recover %s: a running insitu is recording it (its journal "
                 "is locked)", path);
        goto out;
    }
    if (journal_read(jpath, recover_entry, &rc, &scan, msg, msglen) < 0)
        goto out;
    if (scan.bad_magic) {
        snprintf(msg, msglen, "cannot recover %s: %s is not an insitu journal", path, jpath);
        goto out;
    }
    if (rc.err[0]) {
        snprintf(msg, msglen, "%s", rc.err);
        goto out;
    }
    if (!rc.run) {
        snprintf(msg, msglen, "cannot recover %s: the journal holds no run (it was being created)",
                 path);
        goto out;
    }
    /* Without an END the run was cut short: its length is that of its last record. */
    if (!rc.ended) {
        archive_writer_set_duration(rc.w, rc.last_time);
        run_end(rc.run, "interrupted");
    }
    size_t records = 0, events = 0;
    int groups = 0;
    for (int i = 0; i < rc.run->ntables; i++) {
        struct run_table *t = rc.run->tables[i];
        if (t == rc.run->log) {
            events += t->nrec;
            continue;
        }
        records += t->nrec;
        int seen = 0;
        for (int k = 0; k < i; k++)
            if (rc.run->tables[k] != rc.run->log && !strcmp(rc.run->tables[k]->group, t->group))
                seen = 1;
        groups += !seen;
    }
    char ferr[1024];
    struct archive *w = rc.w;
    rc.w = NULL;
    if (archive_writer_finish(w, ARCHIVE_RECOVERED, ferr, sizeof ferr) < 0) {
        unlink(tmp);
        snprintf(msg, msglen, "cannot recover %s: %s", path, ferr);
        goto out;
    }
    if (recover_exists(path)) {
        damaged = recover_damaged_name(path);
        if (rename(path, damaged) < 0) {
            snprintf(msg, msglen, "cannot recover %s: cannot rename it to %s: %s", path, damaged,
                     strerror(errno));
            unlink(tmp);
            goto out;
        }
    }
    if (rename(tmp, path) < 0 || archive_fsync_parent(path) < 0) {
        snprintf(msg, msglen, "cannot recover %s: cannot rename %s: %s", path, tmp,
                 strerror(errno));
        goto out;
    }
    /* The journal is removed when the new file holds everything it held: the replay ended at
     * its end, or at an unfinished last entry (never acknowledged), and every entry applied.
     * Otherwise it stays as the evidence of what could not be recovered. */
    int torn = scan.status == JOURNAL_TORN || (scan.status == JOURNAL_CORRUPT && scan.at_tail);
    int clean = (scan.status == JOURNAL_EOF || torn) && rc.rejected == 0;
    if (clean) {
        unlink(jpath);
        (void)archive_fsync_parent(path);
    }
    struct strbuf m = { 0 };
    strbuf_printf(&m, "recovered %s: %zu records in %d groups, %zu events (journal: %zu entries, "
                  "torn tail: %s)", path, records, groups, events, scan.entries,
                  torn ? "yes" : "no");
    if (damaged)
        strbuf_printf(&m, "; the old file is %s", damaged);
    if (scan.status == JOURNAL_CORRUPT && !scan.at_tail)
        strbuf_printf(&m, "; the journal is damaged at byte %zu, what follows is lost; journal "
                      "kept", scan.good_bytes);
    else if (rc.rejected)
        strbuf_printf(&m, "; %zu entries did not fit the run and were skipped; journal kept",
                      rc.rejected);
    snprintf(msg, msglen, "%s", m.s);
    strbuf_free(&m);
    result = 0;
out:
    if (rc.w)
        archive_writer_discard(rc.w);
    run_free(rc.run);
    free(rc.map);
    free(rc.vals);
    free(damaged);
    free(jpath);
    free(tmp);
    return result;
}
