/* archive: every run as one self-describing netCDF-4 / CF-1.8 file, written as it happens, with
 * an fsync'd append-only journal beside it so that no acknowledged record is lost in a crash.
 *
 *   <dir>/<yyyymmddTHHMMSSZ>-<name>.nc          the run (created exclusively, never overwritten)
 *   <dir>/<yyyymmddTHHMMSSZ>-<name>.nc.journal  the journal, removed after a clean close
 *
 * Layout of the file (man/insitu-archive.5): global CF attributes and run metadata; one group per
 * table group ("ec", "nmr", "atmc", "spm", "log", ...); in each, an unlimited record dimension
 * with its coordinate variable ("time", units "seconds since <run start>"), one variable per
 * field, and fixed axis dimensions with coordinate variables for array fields. */
#ifndef INSITU_ARCHIVE_H
#define INSITU_ARCHIVE_H

#include <stddef.h>
#include "insitu/run.h"
#include "insitu/util.h"

struct archive;

/* Create the file and journal for RUN in DIR (created if missing) and observe the run from now
 * on (what the run already holds is written first). Returns NULL with err set; nothing is left
 * behind on failure. */
struct archive *archive_create(struct run *run, const char *dir, char *err, size_t errlen);
const char *archive_path(const struct archive *a);

/* Make everything written so far durable: nc_sync the file and fsync file and journal. Array
 * records are made durable as they are appended; scalar records wait for this call, which the
 * engine makes every archive.sync seconds (default 2). Updates (run_update) follow the same
 * rule: an array value at once, a scalar one here. Fields added later (run_field_add) are new
 * variables of the group whose earlier records hold the _FillValue, the run's missing value.
 * Returns 0, or -1 if a write failed. */
int archive_sync(struct archive *a);
int archive_dirty(const struct archive *a);

/* Close cleanly: final sync, mark the file complete, close it, remove the journal. Also stops
 * observing the run. Frees A. Returns 0, or -1 with err set (the journal is then kept). */
int archive_close(struct archive *a, char *err, size_t errlen);

/* Stop observing and release A without closing cleanly (what a crash leaves; for tests). */
void archive_abandon(struct archive *a);

/* Read back the array FIELD of the run's record INDEX of T (a record run_get_array no longer
 * has in memory) from the file being written: LEN must be the field's length. Updates made
 * with run_update are read as rewritten; a record made before an array field was added reads
 * as NaN. Returns 0, or -1 with err set (not an array of LEN, a record the file does not hold:
 * one dropped from memory before the archive was created, or a read error). */
int archive_read_array(struct archive *a, const struct run_table *t, int field, size_t index,
                       double *out, size_t len, char *err, size_t errlen);
/* The same for a scalar F64 or I32 field (I32's missing value reads as NaN). */
int archive_read_f64(struct archive *a, const struct run_table *t, int field, size_t index,
                     double *out, char *err, size_t errlen);

/* The first write error seen (disk full, file removed, ...), or NULL. */
const char *archive_error(const struct archive *a);

/* Rebuild PATH from PATH.journal into a complete, valid file. A damaged original is kept as
 * PATH.damaged. Writes a one-line summary into MSG. Returns 0 or -1 (MSG says why). */
int archive_recover(const char *path, char *msg, size_t msglen);

/* Human-readable summary of a run file: metadata, groups, variables with units and record
 * counts. Returns 0 or -1 with err set (a file that will not open but has a journal says so). */
int archive_info(const char *path, struct strbuf *out, char *err, size_t errlen);

/* One line per run file in DIR: file, start, name, records, state (complete, recording,
 * needs recovery). Returns 0 or -1 with err set. */
int archive_list(const char *dir, struct strbuf *out, char *err, size_t errlen);

#endif
