/* archive internals shared by archive.c (the writer), recover.c and info.c. Not installed. */
#ifndef INSITU_ARCHIVE_INTERNAL_H
#define INSITU_ARCHIVE_INTERNAL_H

#include <stddef.h>

#include "insitu/archive.h"

#ifndef INSITU_VERSION
#define INSITU_VERSION "unknown"
#endif

/* Values of the global attribute insitu_state. */
#define ARCHIVE_RECORDING "recording"
#define ARCHIVE_COMPLETE "complete"
#define ARCHIVE_RECOVERED "recovered"

/* A writer for RUN into FILE (created exclusively) that observes the run from now on and has
 * been told what the run already holds. PATH is the name the file will have for good (for
 * messages); JPATH the journal to create, or NULL to write without one (recovery, which reads
 * the journal instead). STATE is the first insitu_state, HISTORY the history attribute.
 * On failure returns NULL with err set, and FILE and JPATH are removed. */
struct archive *archive_writer_open(struct run *run, const char *path, const char *file,
                                    const char *jpath, const char *state, const char *history,
                                    char *err, size_t errlen);
/* The end of the run as a journal recorded it (recovery): used instead of the run clock. */
void archive_writer_set_duration(struct archive *a, double duration);
/* Stop observing, write the final attributes with insitu_state STATE, close and fsync the file.
 * The journal is closed but not removed. Frees A. Returns 0 or -1 with err set. */
int archive_writer_finish(struct archive *a, const char *state, char *err, size_t errlen);
/* Stop observing, close, remove the file (and journal, if any), free. */
void archive_writer_discard(struct archive *a);
/* Records written per table id so far (for recovery's summary), 0 for unknown ids. */
size_t archive_writer_records(const struct archive *a, int table_id);

/* fsync the directory holding PATH (a file name in it). Returns 0 or -1 (errno). */
int archive_fsync_parent(const char *path);
/* "seconds since 2026-11-24T23:30:38Z" (with milliseconds when UTC0 has them). */
char *archive_time_units(double utc0);

/* The state shown by info and list: "recording" (a live process holds the journal), "needs
 * recovery", "complete", "recovered", "incomplete" or "unreadable". NCID is an open file or -1. */
const char *archive_state_of(const char *path, int ncid);

#endif
