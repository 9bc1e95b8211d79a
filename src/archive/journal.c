/* journal: append-only, CRC-checked binary log of a run (format in journal.h). */
#include "insitu/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---- encoding ---------------------------------------------------------------------------- */

static void journal_put_u8(struct strbuf *b, uint8_t v)
{
    strbuf_add(b, (const char *)&v, 1);
}

static void journal_put_u32(struct strbuf *b, uint32_t v)
{
    unsigned char p[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                           (unsigned char)(v >> 24) };
    strbuf_add(b, (const char *)p, 4);
}

static void journal_put_u64(struct strbuf *b, uint64_t v)
{
    journal_put_u32(b, (uint32_t)v);
    journal_put_u32(b, (uint32_t)(v >> 32));
}

static void journal_put_f64s(struct strbuf *b, const double *v, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* The host order is the file order: one copy (spectra are 8192 points and more). */
    strbuf_add(b, (const char *)v, n * sizeof *v);
#else
    for (size_t i = 0; i < n; i++) {
        uint64_t u;
        memcpy(&u, &v[i], sizeof u);
        unsigned char p[8];
        for (int k = 0; k < 8; k++)
            p[k] = (unsigned char)(u >> (8 * k));
        strbuf_add(b, (const char *)p, 8);
    }
#endif
}

static void journal_put_f64(struct strbuf *b, double v)
{
    journal_put_f64s(b, &v, 1);
}

/* A NULL string is stored like "": the readers map "" back to NULL where NULL means absent. */
static void journal_put_str(struct strbuf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    journal_put_u32(b, (uint32_t)n);
    if (n)
        strbuf_add(b, s, n);
}

/* Start an entry: reserve the header, which journal_finish fills once the payload is known. */
static size_t journal_start(struct strbuf *b, enum journal_type type)
{
    size_t start = b->len;
    static const char zero[8];
    strbuf_add(b, zero, 8);
    journal_put_u8(b, (uint8_t)type);
    return start;
}

static void journal_patch_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static void journal_finish(struct strbuf *b, size_t start)
{
    unsigned char *e = (unsigned char *)b->s + start;
    size_t plen = b->len - start - JOURNAL_HEADER_LEN;
    uint32_t crc = (uint32_t)crc32_z(0L, e + 8, plen + 1);
    journal_patch_u32(e, (uint32_t)plen);
    journal_patch_u32(e + 4, crc);
}

void journal_encode_begin(struct strbuf *out, const char *name, double utc0, const char *file)
{
    size_t s = journal_start(out, JOURNAL_BEGIN);
    journal_put_str(out, name);
    journal_put_f64(out, utc0);
    journal_put_str(out, file);
    journal_finish(out, s);
}

void journal_encode_attr(struct strbuf *out, const struct run_attr *a)
{
    size_t s = journal_start(out, JOURNAL_ATTR);
    journal_put_str(out, a->group);
    journal_put_str(out, a->key);
    if (a->num) {
        journal_put_u8(out, 1);
        journal_put_u32(out, (uint32_t)a->n);
        journal_put_f64s(out, a->num, a->n);
    } else {
        journal_put_u8(out, 0);
        journal_put_str(out, a->text);
    }
    journal_finish(out, s);
}

/* One field definition, in TABLE and FIELD entries. */
static void journal_put_field(struct strbuf *out, const struct run_field *f)
{
    journal_put_str(out, f->name);
    journal_put_str(out, f->units);
    journal_put_str(out, f->long_name);
    journal_put_u8(out, (uint8_t)f->type);
    journal_put_str(out, f->dim);
    journal_put_u32(out, (uint32_t)(f->dim ? f->len : 0));
    journal_put_str(out, f->flags);
}

/* One tagged value of field F, in RECORD and UPDATE entries. */
static void journal_put_value(struct strbuf *out, const struct run_field *f,
                              const union run_value *v)
{
    if (f->dim) {
        journal_put_u8(out, JOURNAL_TAG_ARR);
        journal_put_u32(out, (uint32_t)f->len);
        journal_put_f64s(out, v->arr, f->len);
        return;
    }
    switch (f->type) {
    case RUN_F64:
        journal_put_u8(out, JOURNAL_TAG_F64);
        journal_put_f64(out, v->f64);
        break;
    case RUN_I32:
        journal_put_u8(out, JOURNAL_TAG_I32);
        journal_put_u32(out, (uint32_t)v->i32);
        break;
    case RUN_STR:
        journal_put_u8(out, JOURNAL_TAG_STR);
        journal_put_str(out, v->str ? v->str : "");
        break;
    }
}

void journal_encode_table(struct strbuf *out, const struct run_table *t)
{
    size_t s = journal_start(out, JOURNAL_TABLE);
    journal_put_u32(out, (uint32_t)t->id);
    journal_put_str(out, t->group);
    journal_put_str(out, t->recdim);
    journal_put_u32(out, (uint32_t)t->nfields);
    for (int i = 0; i < t->nfields; i++)
        journal_put_field(out, &t->fields[i]);
    journal_finish(out, s);
}

void journal_encode_field(struct strbuf *out, const struct run_table *t, int field)
{
    size_t s = journal_start(out, JOURNAL_FIELD);
    journal_put_u32(out, (uint32_t)t->id);
    journal_put_field(out, &t->fields[field]);
    journal_finish(out, s);
}

void journal_encode_update(struct strbuf *out, const struct run_table *t, uint64_t index,
                           int field, const union run_value *v)
{
    size_t s = journal_start(out, JOURNAL_UPDATE);
    journal_put_u32(out, (uint32_t)t->id);
    journal_put_u64(out, index);
    journal_put_u32(out, (uint32_t)field);
    journal_put_value(out, &t->fields[field], v);
    journal_finish(out, s);
}

void journal_encode_axis(struct strbuf *out, const struct run_axis *ax)
{
    size_t s = journal_start(out, JOURNAL_AXIS);
    journal_put_str(out, ax->group);
    journal_put_str(out, ax->dim);
    journal_put_str(out, ax->units);
    journal_put_str(out, ax->long_name);
    journal_put_u32(out, (uint32_t)ax->len);
    journal_put_f64s(out, ax->values, ax->len);
    journal_finish(out, s);
}

void journal_encode_record(struct strbuf *out, const struct run_table *t, double time,
                           const union run_value *v)
{
    size_t s = journal_start(out, JOURNAL_RECORD);
    journal_put_u32(out, (uint32_t)t->id);
    journal_put_f64(out, time);
    journal_put_u32(out, (uint32_t)t->nfields);
    for (int i = 0; i < t->nfields; i++)
        journal_put_value(out, &t->fields[i], &v[i]);
    journal_finish(out, s);
}

void journal_encode_end(struct strbuf *out, const char *reason, double duration, double utc)
{
    size_t s = journal_start(out, JOURNAL_END);
    journal_put_str(out, reason);
    journal_put_f64(out, duration);
    journal_put_f64(out, utc);
    journal_finish(out, s);
}

/* ---- decoding ---------------------------------------------------------------------------- */

/* A cursor over untrusted bytes: every read checks what is left and, once one fails, all later
 * reads return zeros, so that the parsers below need one check at the end. */
struct journal_rd {
    const unsigned char *p;
    size_t n;
    int bad;
};

static int journal_need(struct journal_rd *r, size_t k)
{
    if (r->bad || r->n < k) {
        r->bad = 1;
        return 0;
    }
    return 1;
}

static uint32_t journal_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint8_t journal_get_u8(struct journal_rd *r)
{
    if (!journal_need(r, 1))
        return 0;
    uint8_t v = r->p[0];
    r->p++;
    r->n--;
    return v;
}

static uint32_t journal_get_u32(struct journal_rd *r)
{
    if (!journal_need(r, 4))
        return 0;
    uint32_t v = journal_le32(r->p);
    r->p += 4;
    r->n -= 4;
    return v;
}

static uint64_t journal_get_u64(struct journal_rd *r)
{
    uint64_t lo = journal_get_u32(r);
    uint64_t hi = journal_get_u32(r);
    return hi << 32 | lo;
}

static double journal_f64_at(const unsigned char *p)
{
    uint64_t u = 0;
    for (int k = 7; k >= 0; k--)
        u = u << 8 | p[k];
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static double journal_get_f64(struct journal_rd *r)
{
    if (!journal_need(r, 8))
        return 0.0;
    double d = journal_f64_at(r->p);
    r->p += 8;
    r->n -= 8;
    return d;
}

/* N doubles into a new array; N is checked against what is left before anything is allocated,
 * so a corrupt count cannot make the decoder allocate more than the input holds. */
static double *journal_get_f64s(struct journal_rd *r, size_t n)
{
    if (r->bad || n > r->n / 8) {
        r->bad = 1;
        return NULL;
    }
    double *v = util_malloc(n * sizeof *v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(v, r->p, n * sizeof *v);
#else
    for (size_t i = 0; i < n; i++)
        v[i] = journal_f64_at(r->p + 8 * i);
#endif
    r->p += 8 * n;
    r->n -= 8 * n;
    return v;
}

/* A string; EMPTY_NULL maps "" to NULL (an absent optional string). Embedded NULs are
 * corruption: the writer takes C strings. */
static char *journal_get_str(struct journal_rd *r, int empty_null)
{
    uint32_t n = journal_get_u32(r);
    if (r->bad || n > r->n || memchr(r->p, '\0', n)) {
        r->bad = 1;
        return NULL;
    }
    char *s = util_strndup((const char *)r->p, n);
    r->p += n;
    r->n -= n;
    if (empty_null && n == 0) {
        free(s);
        return NULL;
    }
    return s;
}

static void journal_field_free(struct run_field *f)
{
    free((char *)f->name);
    free((char *)f->units);
    free((char *)f->long_name);
    free((char *)f->dim);
    free((char *)f->flags);
}

static void journal_value_free(struct journal_value *v)
{
    if (v->tag == JOURNAL_TAG_STR)
        free((char *)v->v.str);
    else if (v->tag == JOURNAL_TAG_ARR)
        free((double *)v->v.arr);
}

void journal_entry_free(struct journal_entry *e)
{
    free(e->begin.name);
    free(e->begin.file);
    free(e->attr.group);
    free(e->attr.key);
    free(e->attr.text);
    free(e->attr.num);
    free(e->table.group);
    free(e->table.recdim);
    for (int i = 0; i < e->table.nfields; i++)
        journal_field_free(&e->table.fields[i]);
    free(e->table.fields);
    free(e->axis.group);
    free(e->axis.dim);
    free(e->axis.units);
    free(e->axis.long_name);
    free(e->axis.values);
    for (int i = 0; i < e->record.nvalues; i++)
        journal_value_free(&e->record.values[i]);
    free(e->record.values);
    free(e->end.reason);
    journal_field_free(&e->field.def);
    journal_value_free(&e->update.value);
    memset(e, 0, sizeof *e);
}

/* The smallest encoded size of one field in a TABLE and one value in a RECORD: counts are
 * checked against them so that allocations stay proportional to the input. */
#define JOURNAL_MIN_FIELD (4 + 4 + 4 + 1 + 4 + 4 + 4)
#define JOURNAL_MIN_VALUE 5

/* One field definition (TABLE, FIELD). What is parsed is in F even when it fails, to be freed. */
static void journal_parse_field(struct journal_rd *r, struct run_field *f)
{
    f->name = journal_get_str(r, 0);
    f->units = journal_get_str(r, 0);
    f->long_name = journal_get_str(r, 0);
    uint8_t type = journal_get_u8(r);
    f->dim = journal_get_str(r, 1);
    uint32_t len = journal_get_u32(r);
    f->flags = journal_get_str(r, 1);
    if (type < RUN_F64 || type > RUN_STR || (f->dim && (len == 0 || type != RUN_F64)) ||
        len > JOURNAL_MAX_PAYLOAD / 8)
        r->bad = 1;
    f->type = (enum run_type)type;
    f->len = f->dim ? len : 0;
}

/* One tagged value (RECORD, UPDATE). The tag is set only once the value is there, so that a
 * failed parse leaves nothing for journal_value_free to free wrongly. */
static void journal_parse_value(struct journal_rd *r, struct journal_value *v)
{
    uint8_t tag = journal_get_u8(r);
    switch (tag) {
    case JOURNAL_TAG_F64:
        v->v.f64 = journal_get_f64(r);
        break;
    case JOURNAL_TAG_I32:
        v->v.i32 = (int32_t)journal_get_u32(r);
        break;
    case JOURNAL_TAG_STR:
        v->v.str = journal_get_str(r, 0);
        break;
    case JOURNAL_TAG_ARR:
        v->len = journal_get_u32(r);
        v->v.arr = journal_get_f64s(r, v->len);
        break;
    default:
        r->bad = 1;
        return;                 /* tag stays 0: nothing to free */
    }
    v->tag = (enum journal_tag)tag;
}

static void journal_parse_table(struct journal_rd *r, struct journal_entry *e)
{
    e->table.id = journal_get_u32(r);
    e->table.group = journal_get_str(r, 0);
    e->table.recdim = journal_get_str(r, 0);
    uint32_t n = journal_get_u32(r);
    if (r->bad || n > r->n / JOURNAL_MIN_FIELD || n > INT32_MAX) {
        r->bad = 1;
        return;
    }
    e->table.fields = util_calloc(n ? n : 1, sizeof *e->table.fields);
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        e->table.nfields = (int)i + 1;    /* so that journal_entry_free frees what is parsed */
        journal_parse_field(r, &e->table.fields[i]);
    }
}

static void journal_parse_record(struct journal_rd *r, struct journal_entry *e)
{
    e->record.id = journal_get_u32(r);
    e->record.time = journal_get_f64(r);
    uint32_t n = journal_get_u32(r);
    if (r->bad || n > r->n / JOURNAL_MIN_VALUE || n > INT32_MAX) {
        r->bad = 1;
        return;
    }
    e->record.values = util_calloc(n ? n : 1, sizeof *e->record.values);
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        e->record.nvalues = (int)i + 1;
        journal_parse_value(r, &e->record.values[i]);
    }
}

static void journal_parse(struct journal_rd *r, enum journal_type type, struct journal_entry *e)
{
    e->type = type;
    switch (type) {
    case JOURNAL_BEGIN:
        e->begin.name = journal_get_str(r, 0);
        e->begin.utc0 = journal_get_f64(r);
        e->begin.file = journal_get_str(r, 0);
        break;
    case JOURNAL_ATTR: {
        e->attr.group = journal_get_str(r, 1);
        e->attr.key = journal_get_str(r, 0);
        uint8_t kind = journal_get_u8(r);
        if (kind == 0) {
            e->attr.text = journal_get_str(r, 0);
        } else if (kind == 1) {
            e->attr.n = journal_get_u32(r);
            e->attr.num = journal_get_f64s(r, e->attr.n);
            if (e->attr.n == 0)
                r->bad = 1;     /* run_attr_num refuses empty arrays: never written */
        } else {
            r->bad = 1;
        }
        break;
    }
    case JOURNAL_TABLE:
        journal_parse_table(r, e);
        break;
    case JOURNAL_AXIS:
        e->axis.group = journal_get_str(r, 0);
        e->axis.dim = journal_get_str(r, 0);
        e->axis.units = journal_get_str(r, 0);
        e->axis.long_name = journal_get_str(r, 0);
        e->axis.len = journal_get_u32(r);
        e->axis.values = journal_get_f64s(r, e->axis.len);
        if (e->axis.len == 0)
            r->bad = 1;
        break;
    case JOURNAL_RECORD:
        journal_parse_record(r, e);
        break;
    case JOURNAL_END:
        e->end.reason = journal_get_str(r, 0);
        e->end.duration = journal_get_f64(r);
        e->end.utc = journal_get_f64(r);
        break;
    case JOURNAL_FIELD:
        e->field.id = journal_get_u32(r);
        journal_parse_field(r, &e->field.def);
        break;
    case JOURNAL_UPDATE:
        e->update.id = journal_get_u32(r);
        e->update.index = journal_get_u64(r);
        e->update.field = journal_get_u32(r);
        journal_parse_value(r, &e->update.value);
        break;
    default:
        r->bad = 1;
        break;
    }
    if (r->n != 0)
        r->bad = 1;             /* trailing bytes: the entry is not what the writer wrote */
}

enum journal_status journal_decode(const void *buf, size_t len, struct journal_entry *e,
                                   size_t *used)
{
    const unsigned char *p = buf;
    memset(e, 0, sizeof *e);
    *used = 0;
    if (len == 0)
        return JOURNAL_EOF;
    if (len < JOURNAL_HEADER_LEN)
        return JOURNAL_TORN;
    uint32_t plen = journal_le32(p);
    uint32_t crc = journal_le32(p + 4);
    if (plen > JOURNAL_MAX_PAYLOAD)
        return JOURNAL_CORRUPT;
    if (len - JOURNAL_HEADER_LEN < plen)
        return JOURNAL_TORN;
    if ((uint32_t)crc32_z(0L, p + 8, (size_t)plen + 1) != crc)
        return JOURNAL_CORRUPT;
    struct journal_rd r = { p + JOURNAL_HEADER_LEN, plen, 0 };
    journal_parse(&r, (enum journal_type)p[8], e);
    if (r.bad) {
        journal_entry_free(e);
        return JOURNAL_CORRUPT;
    }
    *used = JOURNAL_HEADER_LEN + (size_t)plen;
    return JOURNAL_OK;
}

void journal_scan(const void *buf, size_t len, journal_fn fn, void *arg, struct journal_scan *res)
{
    const unsigned char *p = buf;
    memset(res, 0, sizeof *res);
    if (len < JOURNAL_MAGIC_LEN || memcmp(p, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN) != 0) {
        /* A prefix of the magic (an empty file included) is a creation that never finished. */
        size_t k = len < JOURNAL_MAGIC_LEN ? len : JOURNAL_MAGIC_LEN;
        if (len < JOURNAL_MAGIC_LEN && memcmp(p, JOURNAL_MAGIC, k) == 0) {
            res->status = JOURNAL_TORN;
            res->at_tail = 1;
        } else {
            res->status = JOURNAL_CORRUPT;
            res->bad_magic = 1;
        }
        return;
    }
    size_t off = JOURNAL_MAGIC_LEN;
    res->good_bytes = off;
    for (;;) {
        struct journal_entry e;
        size_t used;
        enum journal_status st = journal_decode(p + off, len - off, &e, &used);
        if (st != JOURNAL_OK) {
            res->status = st;
            if (st == JOURNAL_TORN) {
                res->at_tail = 1;
            } else if (st == JOURNAL_CORRUPT && len - off >= JOURNAL_HEADER_LEN) {
                uint32_t plen = journal_le32(p + off);
                res->at_tail = plen <= JOURNAL_MAX_PAYLOAD &&
                               (size_t)plen + JOURNAL_HEADER_LEN == len - off;
            }
            return;
        }
        off += used;
        res->good_bytes = off;
        res->entries++;
        int stop = fn ? fn(arg, &e) : 0;
        journal_entry_free(&e);
        if (stop) {
            res->stopped = 1;
            res->status = JOURNAL_OK;
            return;
        }
    }
}

/* ---- the file ---------------------------------------------------------------------------- */

struct journal {
    int fd;
    off_t size;                 /* bytes known to be complete entries */
};

static void journal_err(char *err, size_t errlen, const char *what, const char *path)
{
    if (err && errlen)
        snprintf(err, errlen, "cannot %s journal %s: %s", what, path, strerror(errno));
}

struct journal *journal_create(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0666);
    if (fd < 0) {
        int e = errno;
        journal_err(err, errlen, "create", path);
        errno = e;
        return NULL;
    }
    /* A fresh file: nobody else can hold the lock; failure would mean flock is unsupported,
     * which only costs the live/crashed distinction. */
    (void)flock(fd, LOCK_EX | LOCK_NB);
    struct journal *j = util_calloc(1, sizeof *j);
    j->fd = fd;
    if (journal_write(j, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN) < 0) {
        int e = errno;
        journal_err(err, errlen, "write", path);
        close(fd);
        unlink(path);
        free(j);
        errno = e;      /* the caller words its own message from it */
        return NULL;
    }
    return j;
}

int journal_write(struct journal *j, const void *buf, size_t len)
{
    const char *p = buf;
    size_t done = 0;
    /* One write(2) normally carries the whole entry; a regular file only writes less when the
     * disk is full or a signal arrives, and then the rest is tried or the part is removed. */
    while (done < len) {
        ssize_t n = write(j->fd, p + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            /* Leave no torn entry in the middle of the journal: later entries would be
             * unreachable behind it. */
            if (done && ftruncate(j->fd, j->size) < 0) {
                /* nothing better to do: the reader stops at the torn entry */
            }
            errno = e;
            return -1;
        }
        done += (size_t)n;
    }
    j->size += (off_t)len;
    return 0;
}

int journal_fsync(struct journal *j)
{
    return fsync(j->fd);
}

int journal_close(struct journal *j)
{
    if (!j)
        return 0;
    int rc = close(j->fd);
    free(j);
    return rc;
}

int journal_read(const char *path, journal_fn fn, void *arg, struct journal_scan *res,
                 char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        journal_err(err, errlen, "open", path);
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        journal_err(err, errlen, "read", path);
        close(fd);
        return -1;
    }
    /* Mapped rather than read: a journal of a long run with spectra can be gigabytes, and the
     * scan touches each page once. */
    size_t len = (size_t)st.st_size;
    void *map = NULL;
    if (len) {
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            journal_err(err, errlen, "read", path);
            close(fd);
            return -1;
        }
        (void)madvise(map, len, MADV_SEQUENTIAL);
    }
    close(fd);
    journal_scan(map ? map : "", len, fn, arg, res);
    if (map)
        munmap(map, len);
    return 0;
}

int journal_locked(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? -1 : 0;   /* there, but not ours to read: not known live */
    int locked = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
    close(fd);   /* releases the shared lock if it was taken */
    return locked;
}
