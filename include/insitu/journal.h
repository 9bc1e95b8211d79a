/* journal: the archive's append-only binary log, the evidence from which a run file is rebuilt
 * after a crash.
 *
 *   file    = "INSJRNL1" entry*
 *   entry   = u32 length, u32 crc32(type byte + payload), u8 type, payload[length]
 *
 * Every integer and double is little-endian whatever the host, so a journal moves between
 * machines. Strings are u32 length + bytes (no NUL inside, none stored). Payloads:
 *
 *   BEGIN   str name, f64 utc0, str file basename
 *   ATTR    str group ("" = global), str key, u8 kind (0 text, 1 numbers),
 *           then str text | u32 n, f64[n]
 *   TABLE   u32 id, str group, str recdim, u32 nfields,
 *           per field: str name, str units, str long_name, u8 type, str dim ("" = scalar),
 *                      u32 len, str flags ("" = none)
 *   AXIS    str group, str dim, str units, str long_name, u32 len, f64[len]
 *   RECORD  u32 table id, f64 time, u32 nvalues, per value: u8 tag, then
 *           tag 1: f64 | tag 2: i32 | tag 3: str | tag 4: u32 n, f64[n]
 *   END     str reason, f64 duration (run seconds), f64 utc at the end
 *   FIELD   u32 table id, one field as in TABLE (str name ... str flags): appended to the table;
 *           the table's records before it hold the missing value
 *   UPDATE  u32 table id, u64 index, u32 field, one value as in RECORD (u8 tag, value):
 *           replaces that field of the table's record INDEX, counted in this journal's RECORD
 *           entries of the table from 0 (which is also the record's index in the file)
 *
 * An entry goes to the file in one write(2): once journal_write returns it is in the page cache
 * and survives the death of the process; journal_fsync makes it survive power loss. A reader
 * stops at the first entry that is incomplete (torn: the write never finished, so it was never
 * acknowledged) or whose CRC or payload is wrong, and keeps every entry before it.
 *
 * Encoding and decoding are pure functions on memory, separate from the file I/O, so that they
 * can be tested and fuzzed alone: the decoder accepts any bytes and never reads past LEN. */
#ifndef INSITU_JOURNAL_H
#define INSITU_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "insitu/run.h"
#include "insitu/util.h"

#define JOURNAL_MAGIC "INSJRNL1"
#define JOURNAL_MAGIC_LEN 8
#define JOURNAL_HEADER_LEN 9                 /* length, crc, type */
#define JOURNAL_MAX_PAYLOAD (1u << 30)       /* larger lengths are corruption, not data */

enum journal_type {
    JOURNAL_BEGIN = 1,
    JOURNAL_ATTR = 2,
    JOURNAL_TABLE = 3,
    JOURNAL_AXIS = 4,
    JOURNAL_RECORD = 5,
    JOURNAL_END = 6,
    JOURNAL_FIELD = 7,
    JOURNAL_UPDATE = 8,
};

/* Value tags inside a RECORD or UPDATE. */
enum journal_tag { JOURNAL_TAG_F64 = 1, JOURNAL_TAG_I32 = 2, JOURNAL_TAG_STR = 3, JOURNAL_TAG_ARR = 4 };

struct journal_value {
    enum journal_tag tag;
    size_t len;                 /* points of an array value */
    union run_value v;          /* strings and arrays point into memory owned by the entry */
};

/* One decoded entry. Only the part named by TYPE is filled; everything is owned by the entry
 * (journal_entry_free). Absent optional strings (global group, scalar dim, no flags) are NULL. */
struct journal_entry {
    enum journal_type type;
    struct { char *name, *file; double utc0; } begin;
    struct run_attr attr;
    struct {
        uint32_t id;
        char *group, *recdim;
        int nfields;
        struct run_field *fields;
    } table;
    struct run_axis axis;
    struct {
        uint32_t id;
        double time;
        int nvalues;
        struct journal_value *values;
    } record;
    struct { char *reason; double duration, utc; } end;
    struct {
        uint32_t id;
        struct run_field def;
    } field;
    struct {
        uint32_t id;
        uint64_t index;
        uint32_t field;
        struct journal_value value;
    } update;
};

void journal_entry_free(struct journal_entry *e);

/* Encoding: append one complete entry (header and payload) to OUT. */
void journal_encode_begin(struct strbuf *out, const char *name, double utc0, const char *file);
void journal_encode_attr(struct strbuf *out, const struct run_attr *a);
void journal_encode_table(struct strbuf *out, const struct run_table *t);
void journal_encode_axis(struct strbuf *out, const struct run_axis *ax);
/* V holds one value per field of T, as given to run_append. */
void journal_encode_record(struct strbuf *out, const struct run_table *t, double time,
                           const union run_value *v);
void journal_encode_end(struct strbuf *out, const char *reason, double duration, double utc);
/* Field FIELD of T as it is now (after run_field_add). */
void journal_encode_field(struct strbuf *out, const struct run_table *t, int field);
/* V is the new value of FIELD of T in record INDEX, as given to run_update; INDEX is the
 * record's index as this journal counts it (see UPDATE above), which the caller maps to. */
void journal_encode_update(struct strbuf *out, const struct run_table *t, uint64_t index,
                           int field, const union run_value *v);

/* Decoding one entry at the start of BUF. */
enum journal_status {
    JOURNAL_OK = 0,         /* *E holds the entry, *USED its size in bytes */
    JOURNAL_EOF = 1,        /* LEN is 0: nothing more */
    JOURNAL_TORN = 2,       /* the entry is incomplete: a write that never finished */
    JOURNAL_CORRUPT = 3,    /* bad length, CRC, type or payload */
};
enum journal_status journal_decode(const void *buf, size_t len, struct journal_entry *e,
                                   size_t *used);

/* Decoding a whole journal image (magic first). FN is called for every good entry in order;
 * a nonzero return stops the scan (status JOURNAL_OK, stopped = 1). */
struct journal_scan {
    size_t entries;         /* good entries */
    size_t good_bytes;      /* offset just past the last good entry */
    enum journal_status status;  /* why the scan ended: EOF, TORN or CORRUPT */
    int bad_magic;          /* the image is not a journal at all */
    int at_tail;            /* the bad entry (TORN or CORRUPT) ran to the end of the image:
                             * an unfinished last write rather than damage in the middle */
    int stopped;
};
typedef int (*journal_fn)(void *arg, const struct journal_entry *e);
void journal_scan(const void *buf, size_t len, journal_fn fn, void *arg, struct journal_scan *res);

/* The file. */
struct journal;
/* Create PATH exclusively (O_CREAT|O_EXCL|O_APPEND|O_CLOEXEC), write the magic, and hold an
 * exclusive flock(2) on it while open so that other processes can tell a live run from a
 * crashed one. */
struct journal *journal_create(const char *path, char *err, size_t errlen);
/* Write one encoded entry (or several) with one write(2). On failure nothing partial is left
 * (the file is truncated back) and -1 is returned with errno set. */
int journal_write(struct journal *j, const void *buf, size_t len);
int journal_fsync(struct journal *j);
/* Close (releases the lock). Returns 0 or -1. */
int journal_close(struct journal *j);

/* Read and scan the journal file PATH (see journal_scan). Returns 0, or -1 with err set if the
 * file cannot be read. */
int journal_read(const char *path, journal_fn fn, void *arg, struct journal_scan *res,
                 char *err, size_t errlen);
/* 1 if a live process holds PATH open for writing (its lock), 0 if not (or PATH cannot be
 * read), -1 if PATH does not exist. */
int journal_locked(const char *path);

#endif
